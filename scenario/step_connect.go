package scenario

import "strings"

func init() {
	defineStep(KindConnect, &stepDef{
		name:     "connect",
		conn:     connOpens,
		validate: validateConnect,
	})
}

func validateConnect(c *stepCheck) {
	cn := c.s.Connect
	if cn.Path != "" && cn.URL != "" {
		c.add("", "give path or url, not both")
	}
	if cn.Path == "" && cn.URL == "" {
		c.add("", "give path (joined to the target) or url")
	}
	if cn.Path != "" && !strings.HasPrefix(cn.Path, "/") {
		c.add(".path", "%q must start with /", cn.Path)
	}
	if cn.URL != "" && !strings.HasPrefix(cn.URL, "ws://") && !strings.HasPrefix(cn.URL, "wss://") {
		c.add(".url", "%q is not a ws:// or wss:// URL", cn.URL)
	}
	c.template(".path", cn.Path)
	c.template(".url", cn.URL)
	for k, hv := range cn.Headers {
		c.template(".headers."+k, hv)
	}
}

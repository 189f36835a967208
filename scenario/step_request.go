package scenario

import "strings"

func init() {
	defineStep(KindRequest, &stepDef{
		name:      "request",
		needsConn: true,
		validate:  validateRequest,
		complete: func(s *Step) {
			if s.Request.Correlate == "" {
				s.Request.Correlate = "marker"
			}
		},
		metric:   func(s *Step) string { return orDefault(s.Name, "request") },
		captures: func(s *Step) map[string]string { return s.Request.Capture },
	})
}

func validateRequest(c *stepCheck) {
	r := c.s.Request
	c.payload(&r.Payload)
	if r.Correlate != "marker" && !strings.HasPrefix(r.Correlate, "json:") {
		c.add(".correlate", "%q: want marker or json:FIELD", r.Correlate)
	}
	if strings.HasPrefix(r.Correlate, "json:") && r.JSON == nil {
		c.add(".correlate", "json correlation needs a json payload")
	}
	if r.Reply != nil {
		c.match(".reply", r.Reply, false)
	}
	c.capture(r.Capture)
}

package wsclient

import "github.com/gobwas/ws/wsflate"

func wsflateExt() *wsflate.Extension {
	return &wsflate.Extension{Parameters: wsflate.DefaultParameters}
}

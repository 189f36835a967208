// Package wsframe decodes WebSocket frames pushed to it in chunks, for
// readiness-driven connections (internal/netpoll) that read whatever the
// socket has and cannot block until a frame is complete. A Decoder keeps a
// partial header, frame or message between chunks and hands complete
// messages and control frames to a Handler; a message that arrives whole
// in one chunk is handed over in place, unmasked, with room for a reply
// header in front of it, so an echo costs no copy. The reference server
// (targets/refserver) uses it on the server side; a lightweight client
// connection can use it on the client side (Decoder.Server false,
// AllowRSV1 for permessage-deflate).
//
// A Decoder belongs to one connection and one goroutine at a time (the
// connection's reader); it has no locks. Between Feeds it may move between
// goroutines if the hand-over synchronises, as netpoll's one-Ready-at-a-time
// guarantee does. Buffers handed to the Handler are valid only during the
// call.
package wsframe

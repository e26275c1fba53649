#!/usr/bin/env python3
"""slixmpp (an independent Python XMPP client) against xmpp-kit's server side.

Run by tests/interop/slixmpp.rs. Every step is mandatory and prints one
"ok: ..." line on stdout; the first failure (or the overall --timeout) prints
"FAILED: ..." on stderr and exits with status 1. Exit status 0 means every
step passed:

  1. STARTTLS with certificate verification against --ca only (hostname
     checked against the JID's domain), to --host/--port without DNS;
  2. SASL and resource binding (session_start);
  3. XEP-0198 stream management enabled (sm_enabled, no sm_failed);
  4. a message "hello from slixmpp" to --peer;
  5. a message "hello from xmpp-kit" back from --peer;
  6. an XEP-0199 ping of the server answered with a result (not an error);
  7. the server acknowledges (XEP-0198 <a h='...'/>) every stanza sent so far,
     in answer to our own <r/>;
  8. a clean disconnect: our </stream:stream> answered by the server's.

--debug logs the whole XML exchange (slixmpp's DEBUG logging) on stderr.
"""

import argparse
import asyncio
import logging
import ssl
import sys

import slixmpp
from slixmpp import JID
from slixmpp.plugins.xep_0198 import stanza as sm_stanza
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

TO_PEER = "hello from slixmpp"
FROM_PEER = "hello from xmpp-kit"


class StepFailed(Exception):
    """A step did not pass."""


def ok(line):
    print("ok: " + line, flush=True)


class Peer(slixmpp.ClientXMPP):
    def __init__(self, args, ssl_context):
        super().__init__(args.jid, args.password, ssl_context=ssl_context)
        # The constructor keeps a context given to it; set it again anyway so
        # that nothing else (no default roots) can be in use.
        self.ssl_context = ssl_context
        self.ca_certs = None
        # STARTTLS only: no direct TLS attempt on the STARTTLS port, never
        # plaintext.
        self.enable_starttls = True
        self.enable_direct_tls = False
        self.enable_plaintext = False
        self.whitespace_keepalive = False

        self.peer = JID(args.peer)
        self.step = "connecting"
        self.done = False
        loop = asyncio.get_running_loop()
        # Set (with an exception) on any failure while a step is waiting.
        self.failure = loop.create_future()
        self.session_started = loop.create_future()
        self.sm_enabled = loop.create_future()
        self.peer_message = loop.create_future()
        self.disconnected_reason = loop.create_future()
        self.tls_checked = False
        self.acks = []  # h of every <a/> received, in order
        self.ack_received = asyncio.Event()

        self.register_plugin("xep_0198")
        self.register_plugin("xep_0199")

        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("sm_enabled", self.on_sm_enabled)
        self.add_event_handler("sm_failed", self.on_fatal("stream management <failed/>"))
        self.add_event_handler("failed_auth", self.on_fatal("SASL authentication failed"))
        self.add_event_handler("failed_all_auth", self.on_fatal("no SASL mechanism succeeded"))
        self.add_event_handler("no_auth", self.on_fatal("no usable SASL mechanism offered"))
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("ssl_invalid_chain", self.on_fatal("TLS: invalid certificate chain"))
        self.add_event_handler("stream_error", self.on_stream_error)
        self.add_event_handler("tls_success", self.on_tls_success)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("disconnected", self.on_disconnected)
        # Our own look at every <a/>, next to the plugin's handler.
        self.register_handler(
            Callback(
                "interop ack watcher",
                MatchXPath(sm_stanza.Ack.tag_name()),
                self.on_ack,
                instream=True,
            )
        )

    # -- events -------------------------------------------------------------

    def fail(self, message):
        if not self.failure.done():
            self.failure.set_exception(StepFailed(message))

    def on_fatal(self, message):
        def handler(event):
            self.fail("%s (%s)" % (message, event))

        return handler

    def on_connection_failed(self, error):
        self.fail("connection failed: %s" % (error,))

    def on_stream_error(self, error):
        self.fail("stream error from the server: %s" % (error,))

    def on_tls_success(self, _event):
        tls = self.socket
        if not isinstance(tls, (ssl.SSLObject, ssl.SSLSocket)):
            self.fail("tls_success but the transport is not TLS: %r" % (tls,))
            return
        if tls.context.verify_mode != ssl.CERT_REQUIRED or not tls.context.check_hostname:
            self.fail("TLS context does not verify the server certificate")
            return
        if tls.server_hostname != self.boundjid.domain:
            self.fail("TLS server name %r, expected %r" % (tls.server_hostname, self.boundjid.domain))
            return
        if tls.getpeercert() is None:
            self.fail("no verified server certificate")
            return
        self.tls_checked = True
        self.tls_version = tls.version()

    def on_session_start(self, _event):
        if not self.session_started.done():
            self.session_started.set_result(None)

    def on_sm_enabled(self, enabled):
        if not self.sm_enabled.done():
            self.sm_enabled.set_result(enabled)

    def on_ack(self, ack):
        self.acks.append(ack["h"])
        self.ack_received.set()

    def on_message(self, msg):
        sender = msg["from"]
        from_peer = sender == self.peer if self.peer.resource else sender.bare == self.peer.bare
        if not from_peer:
            print("note: ignoring a message from %s: %r" % (sender, msg["body"]), file=sys.stderr)
            return
        if msg["type"] == "error":
            self.fail("error message from the peer: %s" % (msg,))
            return
        if msg["body"] != FROM_PEER:
            self.fail("unexpected body from the peer: %r (expected %r)" % (msg["body"], FROM_PEER))
            return
        if not self.peer_message.done():
            self.peer_message.set_result(msg)

    def on_disconnected(self, reason):
        if not self.disconnected_reason.done():
            self.disconnected_reason.set_result(reason)
        if not self.done:
            self.fail("disconnected during %s: %s" % (self.step, reason))

    # -- helpers ------------------------------------------------------------

    async def wait(self, future, step):
        """`future`'s result, or the failure that came first."""
        self.step = step
        await asyncio.wait([future, self.failure], return_when=asyncio.FIRST_COMPLETED)
        if self.failure.done():
            self.failure.result()  # raises
        return future.result()

    # -- the steps ----------------------------------------------------------

    async def run(self, host, port):
        sm = self.plugin["xep_0198"]

        self.connect(host, port)
        await self.wait(self.session_started, "login (STARTTLS, SASL, bind)")
        if "starttls" not in self.features or not self.tls_checked:
            raise StepFailed("session started without verified STARTTLS (features: %s)" % sorted(self.features))
        ok("starttls (%s, certificate of %s verified with the test CA)" % (self.tls_version, self.boundjid.domain))
        mech = self.plugin["feature_mechanisms"].mech
        ok("logged in with %s, bound %s" % (mech.name if mech else "?", self.boundjid.full))

        enabled = await self.wait(self.sm_enabled, "stream management enable")
        if not (sm.enabled_in and sm.enabled_out and "stream_management" in self.features):
            raise StepFailed("sm_enabled fired but the plugin is not enabled both ways")
        ok("sm enabled (id=%r, resume=%r)" % (sm.sm_id, enabled["resume"]))

        # Registered before sending: the answer may come at once.
        self.send_message(mto=self.peer, mbody=TO_PEER, mtype="chat")
        ok("sent %r to %s" % (TO_PEER, self.peer))

        reply = await self.wait(self.peer_message, "waiting for the peer's message")
        ok("got %r from %s" % (reply["body"], reply["from"]))

        ping = self.plugin["xep_0199"].send_ping(JID(self.boundjid.domain), timeout=10)
        try:
            pong = await self.wait(asyncio.ensure_future(ping), "ping")
        except slixmpp.exceptions.IqError as e:
            raise StepFailed("ping answered with an error: %s" % (e.iq,))
        except slixmpp.exceptions.IqTimeout:
            raise StepFailed("ping not answered in 10 s")
        if pong["type"] != "result":
            raise StepFailed("ping answered with %s" % (pong,))
        ok("ping of %s answered with a result" % (self.boundjid.domain,))

        # Message + ping iq at least; our counter must be fully acked by an
        # <a/> that answers our own <r/>.
        sent = sm.seq
        if sent < 2:
            raise StepFailed("stream management counted only %d sent stanzas" % sent)
        acks_before = len(self.acks)
        self.ack_received.clear()
        sm.request_ack()
        self.step = "waiting for <a/> after <r/>"
        while not (len(self.acks) > acks_before and self.acks[-1] == sent):
            await self.wait(asyncio.ensure_future(self.ack_received.wait()), self.step)
            self.ack_received.clear()
        if sm.last_ack != sent or sm.unacked_queue:
            raise StepFailed(
                "after <a h='%d'/>: last_ack=%d, %d stanzas still unacked" % (sent, sm.last_ack, len(sm.unacked_queue))
            )
        ok("server acked all %d sent stanzas (<a h='%d'/> after our <r/>; we handled %d)" % (sent, sent, sm.handled))

        self.done = True
        self.step = "disconnect"
        await self.disconnect(wait=5)
        reason = await asyncio.wait_for(self.disconnected_reason, 5)
        if reason != "End of stream":
            raise StepFailed("the server did not close its stream after ours (disconnect reason: %r)" % (reason,))
        ok("disconnected cleanly (the server answered </stream:stream>)")


async def main(args):
    ssl_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
    ssl_context.check_hostname = True
    ssl_context.verify_mode = ssl.CERT_REQUIRED
    peer = Peer(args, ssl_context)
    try:
        await asyncio.wait_for(peer.run(args.host, args.port), args.timeout)
    except asyncio.TimeoutError:
        raise StepFailed("timed out after %s s during: %s" % (args.timeout, peer.step))
    finally:
        # Whatever failed was reported already; closing is no new failure.
        peer.done = True
        if peer.transport is not None:
            peer.abort()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--ca", required=True, help="CA certificate (PEM) the server's certificate chains to")
    parser.add_argument("--peer", required=True, help="JID (bare or full) of the xmpp-kit client")
    parser.add_argument("--timeout", type=float, default=30.0, help="overall limit in seconds")
    parser.add_argument("--debug", action="store_true", help="log the XML exchange on stderr")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(main(args))
    except StepFailed as e:
        print("FAILED: %s" % (e,), file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as e:  # anything unexpected is a failure too
        logging.exception("unexpected error")
        print("FAILED: unexpected %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        sys.exit(1)
    sys.exit(0)

/**
 * fastify-alb-mtls without Fastify: the framework-free core behind a plain `node:http` server.
 * The same shape works in Express or Hono middleware. The trusted-peer rule is the caller's job
 * here: the verifier cannot know who sent the header.
 */
import { createServer, type Server } from 'node:http'
import { compileTrustedProxies, createVerifier } from '../src/index.js'

export function createPlainServer (roots: string): Server {
  const verifier = createVerifier({ roots })
  // The plugin's matcher: loopback and private ranges by default, or your ALB subnets.
  const trustedPeer = compileTrustedProxies(undefined)
  return createServer((req, res) => {
    const header = trustedPeer(req.socket.remoteAddress) ? req.headers['x-amzn-mtls-clientcert'] : undefined
    const result = verifier.verifySync(header)
    res.setHeader('content-type', 'application/json')
    if (!result.ok) {
      // The code is for the client; the reason and message are for your logs only.
      res.statusCode = result.code === 'FST_MTLS_CERT_MALFORMED' ? 400 : 401
      console.warn('mtls refused:', result.reason, result.message)
      res.end(JSON.stringify({ code: result.code }))
      return
    }
    res.end(JSON.stringify({ subject: result.certificate.subject, spiffeId: result.certificate.spiffeId }))
  })
}

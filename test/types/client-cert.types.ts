/**
 * Type test for the typed non-null identity on guarded routes: compiled by `npm run typecheck`,
 * never run. `@ts-expect-error` lines must stay errors.
 */
import Fastify from 'fastify'
import mtls, { clientCertOf, hasClientCert, requireClientCert, type ClientCertificate, type RequestWithClientCert } from '../../src/index.js'
import { expectType, type Equal } from './expect.js'

const app = Fastify()
await app.register(mtls, { roots: '' })
app.get('/guarded', { onRequest: requireClientCert() }, async (request) => {
  // request.clientCert is nullable on its own...
  expectType<Equal<typeof request.clientCert, ClientCertificate | null>>(true)
  // @ts-expect-error the nullable field needs a check
  request.log.info(request.clientCert.subject)
  // ...clientCertOf gives the non-null identity.
  const cert = clientCertOf(request)
  expectType<Equal<typeof cert, ClientCertificate>>(true)
  return cert.subject
})
app.get('/narrowed', async (request) => {
  if (hasClientCert(request)) {
    expectType<Equal<typeof request.clientCert, ClientCertificate>>(true)
    const typed: RequestWithClientCert = request
    return typed.clientCert.subject
  }
  return null
})

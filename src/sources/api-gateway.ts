/**
 * api-gateway: Amazon API Gateway mutual TLS, read from the Lambda proxy event (no HTTP server, no
 * framework). API Gateway validated the chain against its truststore and puts the leaf in
 * `requestContext.identity.clientCert` (REST APIs, payload 1.0) or
 * `requestContext.authentication.clientCert` (HTTP APIs, payload 2.0):
 * `{ clientCertPem, subjectDN, issuerDN, serialNumber, validity: { notBefore, notAfter } }`.
 * The PEM is the source of truth; `serialNumber` (colon hex) is cross-checked against it. The DN and
 * validity texts are not (their format is not specified) and are not used.
 */
import { decodeReference } from './decode.js'
import { ABSENT, cacheText, malformed, refused, type Decoded, type Material, type SourceReader } from './material.js'

/** The part of an API Gateway Lambda event this reads (payload format 1.0 or 2.0). */
export interface ApiGatewayEvent {
  requestContext?: {
    identity?: { clientCert?: ApiGatewayClientCert | null } | null
    authentication?: { clientCert?: ApiGatewayClientCert | null } | null
  } | null
}

export interface ApiGatewayClientCert {
  clientCertPem?: string
  subjectDN?: string
  issuerDN?: string
  serialNumber?: string
  validity?: { notBefore?: string, notAfter?: string }
}

export function apiGatewaySource (): SourceReader<ApiGatewayEvent> {
  return {
    name: 'api-gateway',
    fromHeaders: false,
    needsRoots: false,
    read (event, limits): Material {
      const context = event?.requestContext
      const cert = context?.authentication?.clientCert ?? context?.identity?.clientCert
      if (cert === undefined || cert === null) return ABSENT
      const pem = cert.clientCertPem
      if (typeof pem !== 'string' || pem === '') return refused(malformed('incomplete-headers', 'clientCert without clientCertPem'))
      if (pem.length > limits.maxHeaderBytes) return refused(malformed('header-too-large', `clientCertPem of ${pem.length} bytes exceeds maxHeaderBytes ${limits.maxHeaderBytes}`))
      const serialNumber = typeof cert.serialNumber === 'string' ? cert.serialNumber : undefined
      return {
        kind: 'present',
        key: pem.slice(Math.max(0, pem.indexOf('-----END') - 40), Math.max(0, pem.indexOf('-----END') - 8)),
        text: cacheText([pem, serialNumber]),
        decode: (): Decoded => {
          const decoded = decodeReference(pem, 1)
          if (!decoded.ok) return malformed(decoded.reason, decoded.message)
          return { kind: 'verified', leaf: decoded.certificates[0]!, claims: serialNumber === undefined ? {} : { serialNumber, serialColons: true } }
        }
      }
    }
  }
}

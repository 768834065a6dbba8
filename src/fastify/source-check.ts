/**
 * source-check: the Fastify side of the `source` option for every source other than ALB's two
 * modes. The source reads `request.raw` (its `rawHeaders`, or its socket for `tls`; a custom
 * source gets the Fastify request); material from a peer outside `trustedProxies` is ignored and
 * logged, exactly as the ALB headers are.
 */
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { resolveSource, type SourceOption } from '../sources/index.js'
import type { Material, SourceReader } from '../sources/material.js'
import { createSourceVerifier, type SourceVerifier, type SourceVerifierOptions } from '../verifier/source-verifier.js'
import { MISSING } from '../verifier/verifier.js'
import { createTlsAttacher } from '../verifier/verify-mode.js'
import type { VerifyResult } from '../types.js'

export interface SourceCheck {
  verifier: SourceVerifier<any>
  check: (request: FastifyRequest) => VerifyResult
  /**
   * For the refusal log line of the request `check` just refused: a thunk giving the certificates
   * it carried (decoded only if the log line needs them), and whether the trust decision was made
   * here (false: the proxy's flag refused it before any validation).
   */
  refusedMaterial: () => { certificates: () => readonly Uint8Array[] | null, decidedHere: boolean } | undefined
}

export function createSourceCheck (
  source: SourceOption,
  options: SourceVerifierOptions,
  trustedPeer: (socket: FastifyRequest['socket']) => boolean
): SourceCheck {
  const custom = typeof source === 'object' && 'extract' in source
  const verifier = createSourceVerifier((context) => resolveSource(source, context) as SourceReader<any>, options)
  const fromHeaders = verifier.reader.fromHeaders
  // The `tls` source knows the connection's TLS version and cipher first-hand: the identity carries them.
  const attachTls = verifier.reader.name === 'tls' ? createTlsAttacher() : null
  // The material of the last refused request, kept for its log line only: the plugin's hook asks
  // for it synchronously right after `check` refused (nothing runs in between), and takes it.
  // Set on refusals only, so an accepted request costs nothing here.
  let refusedMaterial: Material | undefined
  return {
    verifier,
    check: (request) => {
      const material = verifier.read(custom ? request : request.raw)
      if (fromHeaders && material.kind !== 'absent' && !trustedPeer(request.socket)) {
        request.log.warn({ mtls: { remoteAddress: request.socket.remoteAddress, source: verifier.reader.name } }, 'mtls: certificate headers from an untrusted peer ignored')
        refusedMaterial = undefined
        return MISSING
      }
      const result = verifier.check(material)
      if (!result.ok) {
        refusedMaterial = material
        return result
      }
      if (attachTls === null) return result
      const socket = request.raw.socket as Partial<TLSSocket>
      return attachTls(result, socket.getProtocol?.() ?? undefined, socket.getCipher?.()?.name)
    },
    refusedMaterial: () => {
      const material = refusedMaterial
      refusedMaterial = undefined
      if (material === undefined || material.kind === 'absent') return undefined
      return { certificates: () => verifier.presented(material), decidedHere: material.kind === 'present' }
    }
  }
}

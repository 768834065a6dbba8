/**
 * fastify-alb-mtls/cli: the local ALB emulator and the demo PKI generator, for tests and dev scripts.
 */
export { startAlbEmulator, forwardedHeaders } from './emulate.js'
export type { AlbEmulator, AlbEmulatorOptions, AlbListenerOptions, AlbListenerInfo, AlbMode } from './emulate.js'
export { generateDemoPki, readDemoPki, demoPkiFiles, PkiExistsError, DEMO_ALGORITHMS } from './certs.js'
export type { DemoPkiOptions, DemoPkiManifest, DemoIdentity, DemoAlgorithm } from './certs.js'
export { ALB_HEADERS, passthroughHeaders, verifyHeaders, peerChain } from './alb-headers.js'

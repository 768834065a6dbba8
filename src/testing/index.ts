export { generateKeyPair, clearKeyPool, keyAlgorithms, RSA_POOL_SIZE } from './keys.js'
export type { KeyAlgorithm, KeyPair, GenerateKeyPairOptions, SignatureHash } from './keys.js'
export { createCertificate, encodeName, parseName, parseSerial, formatSerial, toPem } from './certificate.js'
export type {
  CertificateSpec, IssuedCertificate, NameInput, GeneralNamesInput, GeneralSubtrees,
  KeyUsage, ExtendedKeyUsage, RawExtension, PolicySpec
} from './certificate.js'
export { createCrl, crlDistributionPoints, CrlReason } from './crl.js'
export type { CrlSpec, IssuedCrl, RevokedEntry, ReasonFlag, DistributionPointSpec, IssuingDistributionPointSpec } from './crl.js'
export { createTestPki, toAlbHeader } from './chain.js'
export type { Issued, TestPki, TestPkiOptions } from './chain.js'

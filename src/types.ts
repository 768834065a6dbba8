/**
 * Public types of the framework-independent core. Nothing here imports Fastify.
 */

/** Subject alternative names of a certificate, as text. */
export interface SubjectAltNames {
  /** dNSName entries, as written in the certificate. */
  readonly dns: readonly string[]
  /** uniformResourceIdentifier entries. */
  readonly uri: readonly string[]
  /** rfc822Name (e-mail) entries. */
  readonly email: readonly string[]
  /** iPAddress entries: dotted IPv4 or RFC 5952 IPv6 text. */
  readonly ip: readonly string[]
}

/**
 * Attributes of a distinguished name by short name (`CN`, `O`, `OU`, `C`, `L`, `ST`, `DC`, `UID`,
 * `emailAddress`, `serialNumber`, ...; unknown types by dotted OID). Every attribute is a list: a
 * name may repeat an attribute (several `OU`s is common). Order is the order in the certificate.
 */
export type NameAttributes = Readonly<Record<string, readonly string[]>>

/** One certificate of a verified chain. */
export interface ChainCertificate {
  /** RFC 4514 subject, e.g. `CN=client,O=Example Corp`. */
  readonly subject: string
  /** RFC 4514 issuer. */
  readonly issuer: string
  /** Serial number, lowercase hex without leading zero bytes. */
  readonly serialNumber: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** SHA-256 of the DER, lowercase hex without separators. */
  readonly fingerprint256: string
  /** PEM text of the certificate. */
  readonly pem: string
}

/** TLS parameters of the client connection, as ALB reports them (`X-Amzn-Tls-*`), when present. */
export interface TlsInfo {
  /** e.g. `TLSv1.3` (`X-Amzn-Tls-Version`). */
  readonly version?: string
  /** OpenSSL cipher name, e.g. `TLS_AES_128_GCM_SHA256` (`X-Amzn-Tls-Cipher-Suite`). */
  readonly cipherSuite?: string
}

/** Where an identity came from (the `source` option that produced it, or `api-gateway` / `custom`). */
export type CertificateSource = 'alb-passthrough' | 'alb-verify'
  | 'cloudfront' | 'rfc9440' | 'xfcc' | 'nginx' | 'traefik' | 'gcp' | 'cloudflare' | 'base64-der' | 'tls' | 'custom' | 'api-gateway'

/** The verified client identity: `request.clientCert`. */
export interface ClientCertificate extends ChainCertificate {
  /** Parsed subject attributes, e.g. `{ CN: ['client'], O: ['Example Corp'] }`. */
  readonly subjectAttributes: NameAttributes
  /** Parsed issuer attributes. */
  readonly issuerAttributes: NameAttributes
  /** First subject CN, or null. */
  readonly commonName: string | null
  /** Subject alternative names (empty lists when the extension is absent). */
  readonly san: SubjectAltNames
  /**
   * The `spiffe://` URI SAN when the certificate carries exactly one and it is a valid SPIFFE ID
   * (SPIFFE-ID standard: lowercase trust domain, no userinfo, port, query, fragment,
   * percent-encoding, empty, `.` or `..` segments), else null. Check the trust domain with
   * `inTrustDomain(spiffeId, 'example.org')`, not with a prefix or RegExp.
   */
  readonly spiffeId: string | null
  /** The verified path: leaf first, the configured root last. */
  readonly chain: readonly ChainCertificate[]
  /**
   * Base64url SHA-256 of the leaf DER (RFC 8705 section 3.1): compare it with an access token's
   * `cnf["x5t#S256"]` to bind the token to this certificate.
   */
  readonly x5tS256: string
  /** Which source produced the identity. */
  readonly source: CertificateSource
  /** Who validated the chain: this library, or the proxy in front (ALB verify mode, CloudFront, a proxy's verified flag, API Gateway). */
  readonly verifiedBy: 'fastify-alb-mtls' | 'load-balancer'
  /**
   * The leaf's valid certificate policies after RFC 5280 6.1 processing (the user-constrained policy
   * set, as dotted OIDs in the trust anchor's policy domain, sorted). `2.5.29.32.0` (anyPolicy) when
   * every certificate asserts anyPolicy and `policies.initialPolicySet` is any-policy; empty when the
   * path asserts no common policy. In ALB verify mode without `verifyChain`, from the leaf alone.
   */
  readonly policies: readonly string[]
  /** TLS version and cipher suite when the load balancer sent them (both modes). */
  readonly tls?: TlsInfo
}

/** Error codes a verification can end with; stable, documented in README. */
export type VerifyErrorCode = 'FST_MTLS_CERT_MISSING' | 'FST_MTLS_CERT_MALFORMED' | 'FST_MTLS_CERT_INVALID'

/** Why a header could not be decoded (code `FST_MTLS_CERT_MALFORMED`, HTTP 400). */
export type MalformedReason =
  | 'header-too-large'
  | 'repeated-header'
  | 'bad-encoding'
  | 'bad-pem'
  | 'not-a-certificate'
  | 'bad-base64'
  | 'bad-der'
  | 'too-many-certificates'
  /** ALB verify mode: some of the five headers are missing. */
  | 'incomplete-headers'
  /** ALB verify mode: a serial, issuer, subject or validity header disagrees with the leaf (tampering). */
  | 'header-mismatch'

/** Why a well-formed chain was refused (code `FST_MTLS_CERT_INVALID`, HTTP 401). */
export type InvalidReason =
  | 'untrusted'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'revoked'
  | 'crl-unusable'
  /** `crlPolicy.onMissing: 'reject'`: no CRL held covers a certificate of the path. */
  | 'revocation-unknown'
  | 'ca-as-leaf'
  | 'not-a-ca'
  | 'path-length-exceeded'
  | 'max-chain-depth-exceeded'
  | 'key-usage'
  | 'extended-key-usage'
  | 'unknown-critical-extension'
  | 'name-constraints'
  | 'weak-algorithm'
  | 'weak-key'
  | 'invalid-certificate'
  /** Path building spent its work budget (signature checks, weighted by key cost) without a valid path: a crafted chain. */
  | 'path-budget-exceeded'
  /** RFC 5280 6.1 certificate policy processing failed (no acceptable policy where one is required, anyPolicy mapped). */
  | 'certificate-policy'
  /** The path's policy tree would exceed the processing bound (crafted policies or mappings). */
  | 'policy-limit-exceeded'

/**
 * Why the plugin refused a certificate the verifier accepted (code `FST_MTLS_TRUST_STALE`, HTTP 503):
 * its `trustSource` has not confirmed the trust material within its staleness limit.
 */
export type UnavailableReason = 'trust-stale'

export type FailureReason = 'missing' | MalformedReason | InvalidReason

export interface VerifySuccess {
  readonly ok: true
  readonly certificate: ClientCertificate
}

export interface VerifyFailure {
  readonly ok: false
  readonly code: VerifyErrorCode
  /** Stable, machine-readable reason. */
  readonly reason: FailureReason
  /** Human-readable detail for logs. Never send it to the client. */
  readonly message: string
}

export type VerifyResult = VerifySuccess | VerifyFailure

/** Verdict cache settings (option `cache`). */
export interface VerdictCacheOptions {
  /** Most successful verdicts kept; failures get a quarter of it. Default 10,000. */
  max?: number
  /** Most bytes kept (estimated from header and identity sizes); failures get a quarter. Default 64 MiB. */
  maxBytes?: number
  /** Longest reuse of a success, in ms; never past the earliest notAfter on the path. Default 600,000. */
  ttl?: number
  /** Reuse of a failure, in ms, so a hostile client cannot make the server redo the work. Default 5,000; 0 = off. */
  failureTtl?: number
}

/** Certificate policy processing inputs (RFC 5280 6.1.1 (c)-(f)), option `policies`. */
export interface CertificatePolicyOptions {
  /** user-initial-policy-set: dotted OIDs acceptable to the application. Default `['2.5.29.32.0']` (anyPolicy: any). */
  initialPolicySet?: readonly string[]
  /** initial-explicit-policy: the path must be valid for a policy in `initialPolicySet`. Default false. */
  requireExplicitPolicy?: boolean
  /** initial-policy-mapping-inhibit: policy mappings make the mapped policies invalid. Default false. */
  inhibitPolicyMapping?: boolean
  /** initial-any-policy-inhibit: anyPolicy in a certificate matches nothing (self-issued CAs excepted). Default false. */
  inhibitAnyPolicy?: boolean
}

/** Certificate revocation lists: PEM text (`X509 CRL` blocks, bundles and `#` comment lines allowed) or DER bytes. */
export type CrlInput = string | Uint8Array

/** Trust material: PEM text (bundles allowed, `#` comment lines allowed) or DER bytes. */
export type CertificateInput = string | Uint8Array

export interface VerifierOptions {
  /** Trust anchors. Required: at least one CA certificate. */
  roots: CertificateInput | readonly CertificateInput[]
  /**
   * Extra CA certificates that are NOT trust anchors: offered to path building (after the ones the
   * client sent) so clients may send their leaf alone. Each must still chain to a root.
   */
  intermediates?: CertificateInput | readonly CertificateInput[]
  /** Seconds of clock skew tolerated on notBefore/notAfter. Default 0. */
  clockTolerance?: number
  /**
   * EKU the leaf must allow when it carries the extendedKeyUsage extension. Names (`clientAuth`,
   * `serverAuth`, ...) or dotted OIDs. Default `['clientAuth']`; `false` turns every EKU check off.
   */
  extendedKeyUsage?: readonly string[] | false
  /**
   * Accept a leaf whose extendedKeyUsage lists `anyExtendedKeyUsage`, which then satisfies every
   * required usage (RFC 5280 4.2.1.12). Default false: such a leaf is refused with reason
   * `extended-key-usage`, as the CA/B Forum profile (7.1.2.7.10) requires.
   */
  allowAnyExtendedKeyUsage?: boolean
  /** Most intermediates allowed between leaf and root. Default 4 (ALB's limit). */
  maxChainDepth?: number
  /** Longer header values are refused before any parsing. Default 16384 (ALB's limit). */
  maxHeaderBytes?: number
  /** Clock. Default `() => new Date()`. */
  now?: () => Date
  /** Accept certificates past notAfter (mirrors ALB's "ignore client certificate expiry"). Default false. */
  ignoreExpiry?: boolean
  /** Smallest RSA modulus accepted, in bits. Default 2048 (ALB accepts 2048-8192). */
  minRsaKeyBits?: number
  /** Accept SHA-1 signatures. Default false. MD5 is never accepted. */
  allowSha1?: boolean
  /**
   * Certificate policy processing (RFC 5280 6.1), always run. The defaults accept any policy and
   * refuse only what the certificates themselves require (requireExplicitPolicy, inhibitAnyPolicy,
   * policy mappings). The leaf's valid policies are `request.clientCert.policies`.
   */
  policies?: CertificatePolicyOptions
  /**
   * Verdict cache: a repeated header is answered without validating again. `false` turns it off.
   * Cleared by `reload`. Default `{ max: 10000, maxBytes: 64 MiB, ttl: 600000, failureTtl: 5000 }`.
   */
  cache?: VerdictCacheOptions | false
  /**
   * CRLs to check every certificate of the path against (ALB trust stores carry CRLs the same way),
   * per RFC 5280 6.3: complete, partitioned (issuingDistributionPoint), indirect (certificateIssuer)
   * and delta CRLs. A PEM bundle may also hold `CERTIFICATE` blocks: separate CRL-signing
   * certificates or rolled-over CA keys, used only to verify CRLs. Checked when loaded: a malformed
   * CRL, one without a CRL number, with an unknown critical extension, without nextUpdate, or one
   * whose issuer is a configured root but whose signature or issuer keyUsage (cRLSign) is wrong makes
   * `createVerifier`/`reload` throw. A listed certificate is refused with reason `revoked`
   * (certificateHold included). When the CRLs that name a certificate's issuer cannot establish its
   * status (not yet valid, past nextUpdate, bad signature, signer revoked, out of scope, reasons not
   * covered) it is refused with reason `crl-unusable`. Certificates no CRL concerns: see
   * `crlPolicy.onMissing`.
   */
  crls?: CrlInput | readonly CrlInput[]
  /**
   * What a CRL past its nextUpdate means. `onExpired: 'reject'` (default, fail closed): loading it
   * throws, and once it goes stale while running, certificates it covers are refused with reason
   * `crl-unusable`. `'ignore'`: it loads and keeps applying (its revocations still stand).
   * `onMissing: 'allow'` (default, ALB's meaning): a certificate whose issuer has no CRL here is not
   * revocation-checked. `'reject'`: every certificate of the path but the root must be covered by a
   * usable CRL, else reason `revocation-unknown`. `requireCrlNumber`: see below.
   */
  crlPolicy?: {
    onExpired?: 'reject' | 'ignore'
    onMissing?: 'allow' | 'reject'
    /**
     * `true` (default): a CRL without cRLNumber (RFC 5280 5.2.3 MUST) makes loading throw. `false`:
     * such a complete CRL is used (v1 CRLs, `openssl ca -gencrl` without a crlnumber file); it cannot
     * be a delta CRL's base, and a delta CRL always needs a cRLNumber.
     */
    requireCrlNumber?: boolean
  }
}

/** Trust material as a trust source hands it over (the `roots`, `intermediates` and `crls` options). */
export interface SourcedTrustMaterial {
  roots: readonly CertificateInput[]
  intermediates?: readonly CertificateInput[]
  crls?: readonly CrlInput[]
}

/** A pino-style logger (Fastify's `log` fits). */
export interface TrustSourceLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/**
 * Trust material followed from elsewhere (`createS3TrustStore` of `fastify-alb-mtls/s3`). Given to
 * the plugin as `trustSource`, it supplies the material, reloads the verifier when the material
 * changes and makes the plugin refuse accepted certificates (`FST_MTLS_TRUST_STALE`, 503) while
 * `staleness` says the material is too old.
 */
export interface TrustSource {
  /** The material in force now. */
  current (): SourcedTrustMaterial
  /**
   * Registers a follower: `reload` is called with every new material (throwing refuses it, and the
   * source keeps the last good material); `log` receives the source's events when it has no logger
   * of its own. Returns the function that unregisters it.
   */
  follow (follower: { reload (material: SourcedTrustMaterial): void, log?: TrustSourceLog }): () => void
  /** Null while the material may be relied on now (by the source's clock); otherwise why not. Cheap: called per accepted request. */
  staleness (): string | null
}

/**
 * revocation: CRL parsing and loading (crl.ts), distribution-point scope (scope.ts) and the RFC 5280
 * 6.3 algorithm run for every certificate of a path (check.ts).
 */
export { parseCrl, parseCrlAsync, prepareCrl, loadCrls, loadCrlMaterial, crlName, crlUsableAt, serialKey, findEntry, keyIdentifiersAgree, CrlError, REASON_NAMES, type ParsedCrl, type CrlEntry, type CrlEntries, type CrlTimeProblem, type CrlMaterial } from './crl.js'
export { createRevocation, crlIssuerProblem, revocationBudget, type Revocation, type RevocationOptions, type RevocationBudget } from './check.js'

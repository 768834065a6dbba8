/** crl: kept as the entry point other modules import; revocation lives in ./revocation/. */
export * from './revocation/index.js'

/** What the driver is given as DATABASE_URL in tests: only its header reaches the local endpoint. */
export const LOCAL_DATABASE_URL = "postgres://local:local@localhost:5432/main";
/** Svix test secrets (base64 of fixed bytes): never used anywhere but tests and dev. */
export const TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const OTHER_SECRET = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCEhIQ==";

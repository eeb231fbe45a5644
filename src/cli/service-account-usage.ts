/** `service-account`'s lines of `ferry help` (apart, so that showing them loads no database code). */
export const SERVICE_ACCOUNT_USAGE = `  service-account create <name> [--tenant <tenant>] [--json]
            create an account for a business server and print its API key (shown once)
  service-account list [--json]
            list the service accounts
`;

/** Who a request acts for: every upload and file belongs to exactly one user. */
export interface Principal {
  readonly userId: string;
  /** Users of one tenant may share instant uploads when the dedup scope is `tenant`. */
  readonly tenant: string;
}

/**
 * The one implicit user of FERRY_AUTH=none (a trusted single-user setup). It is a real user row, so
 * switching the mode later keeps every upload and file owned by someone.
 */
export const LOCAL_USER: Principal & { readonly username: string } = {
  userId: '00000000000000000000000000000000',
  username: 'local',
  tenant: 'default',
};

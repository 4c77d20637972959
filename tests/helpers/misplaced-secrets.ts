/**
 * A secret pasted on the wrong line (or a junk value) in each variable the library reads: the
 * error names the variable, with its prefix, and shows no part of the value.
 */
export const SECRET = 'cs1.S3cr3tPastedOnTheWrongLine9f2c';

/** The bad values of each variable suffix, each holding {@link SECRET}. */
export const BAD_VALUES: ReadonlyArray<[suffix: string, value: string]> = [
  ['CLIENT_ID', `cid.abc\n${SECRET}`],
  ['CLIENT_SECRET', `${SECRET}\r\nak1.next-line`],
  ['APP_KEY', `ak1.key\t${SECRET}\u0000`],
  ['TENANT_ID', SECRET],
  ['TENANT_ID', `42 ${SECRET}`],
  ['ENVIRONMENT', SECRET],
  ['AUTH_URL', SECRET],
  ['AUTH_URL', `http://${SECRET}.example/connect/token`],
  ['AUTH_URL', `https://client:${SECRET}@auth.example/connect/token`],
  ['API_URL', SECRET],
  ['API_URL', `ftp://${SECRET}.example`],
  ['API_URL', `https://${SECRET}@api.example`],
];

// Type tests, checked by `npm run typecheck` (never executed): misuse must not compile.
import axios from 'axios';
import '../../src';

const api = axios.create();

void api.get('/x', { serviceTitanAuth: { skip: true } });
void api.get('/x', { serviceTitanAuth: {} });
void api.request({ url: '/x', serviceTitanAuth: { skip: false } });

// @ts-expect-error skip is a boolean
void api.get('/x', { serviceTitanAuth: { skip: 'yes' } });
// @ts-expect-error unknown per-request option
void api.get('/x', { serviceTitanAuth: { skp: true } });
// @ts-expect-error the namespace takes an object
void api.get('/x', { serviceTitanAuth: true });

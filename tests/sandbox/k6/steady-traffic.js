// Steady, bounded traffic through the sandbox's load balancer while a deploy
// or rollback runs (paas_testlib.steady_traffic). Every response must be 200.
// Bounded twice: at most MAX_SECONDS, and VUS virtual users with a pause.
import http from 'k6/http';
import { check, sleep } from 'k6';

const name = __ENV.SITE;              // the site's public name, e.g. portfolio.sandbox.internal
const address = __ENV.LB_ADDRESS;     // the sandbox load balancer's address, which the name is pinned to
const page = __ENV.PAGE || '/portfolios';   // /stats: a Redis round trip on each request too

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 2),
      duration: `${__ENV.MAX_SECONDS || 300}s`,
      gracefulStop: '5s',
    },
  },
  hosts: { [name]: address },         // as DNS would: TLS SNI and Host carry the name
  // The certificate is verified: SSL_CERT_FILE names the roots of the sandbox's ACME server.
  thresholds: { http_req_failed: ['rate==0'] },
};

export default function () {
  const res = http.get(`https://${name}${page}`, { timeout: __ENV.TIMEOUT || '10s' });
  check(res, { 'status 200': (r) => r.status === 200 });
  sleep(0.25);   // stays under the load balancer's per-client rate limit (20 r/s)
}

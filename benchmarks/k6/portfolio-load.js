// The sandbox under load (benchmarks/load_test.py): a constant arrival rate of
// visits through the load balancer, for a bounded time. A visit is one of:
//   50 % the portfolio list (/), 35 % one portfolio's page,
//   15 % an editing session: the edit form (session cookie and CSRF token),
//        the update (a PATCH through the form, a database write), the page it
//        redirects to.
// Bounded: RATE visits/s for SECONDS, at most MAX_VUS virtual users.
import http from 'k6/http';
import { check, fail } from 'k6';

const name = __ENV.SITE;              // the site's public name
const address = __ENV.LB_ADDRESS;     // the load balancer it is pinned to, as DNS would
const base = `https://${name}`;

export const options = {
  scenarios: {
    visits: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE),
      timeUnit: '1s',
      duration: `${Number(__ENV.SECONDS)}s`,
      preAllocatedVUs: Math.min(Number(__ENV.MAX_VUS), Math.max(10, Number(__ENV.RATE))),
      maxVUs: Number(__ENV.MAX_VUS),
      gracefulStop: '10s',
    },
  },
  hosts: { [name]: address },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  // The certificate is verified (SSL_CERT_FILE names the sandbox ACME server's roots): no insecureSkipTLSVerify.
};

const token = (body) => {
  const match = /name="authenticity_token" value="([^"]+)"/.exec(body || '');
  return match ? match[1] : null;
};

export function setup() {
  const list = http.get(`${base}/`, { timeout: '30s' });
  if (list.status !== 200) fail(`the portfolio list answered ${list.status}`);
  let ids = [...new Set([...list.body.matchAll(/href="\/portfolios\/(\d+)"/g)].map((m) => m[1]))];
  // A fresh sandbox has few portfolios: create up to 20 through the form, as a user would.
  for (let i = ids.length; i < 20; i += 1) {
    const form = http.get(`${base}/portfolios/new`);
    const created = http.post(`${base}/portfolios`, {
      authenticity_token: token(form.body), 'portfolio[name]': `Load test ${i} ${Date.now()}`,
      'portfolio[owner]': 'k6', 'portfolio[description]': 'created by benchmarks/load_test.py',
    });
    if (created.status !== 200) fail(`creating a portfolio answered ${created.status}`);
    const id = /\/portfolios\/(\d+)/.exec(created.url);
    if (id) ids.push(id[1]);
  }
  return { ids: ids.slice(0, 50) };
}

export default function (data) {
  const pick = Math.random();
  const id = data.ids[Math.floor(Math.random() * data.ids.length)];
  if (pick < 0.5) {
    check(http.get(`${base}/`, { tags: { page: 'list' } }), { 'list 200': (r) => r.status === 200 });
  } else if (pick < 0.85) {
    check(http.get(`${base}/portfolios/${id}`, { tags: { page: 'show' } }), { 'show 200': (r) => r.status === 200 });
  } else {
    const form = http.get(`${base}/portfolios/${id}/edit`, { tags: { page: 'edit' } });
    if (!check(form, { 'edit 200': (r) => r.status === 200 })) return;
    // The update redirects (302) to the portfolio's page, which k6 follows: 200 at the end.
    const updated = http.post(`${base}/portfolios/${id}`, {
      _method: 'patch', authenticity_token: token(form.body),
      'portfolio[description]': `updated at ${Date.now()} by benchmarks/load_test.py`,
    }, { tags: { page: 'update' } });
    check(updated, { 'update 200': (r) => r.status === 200 });
  }
}

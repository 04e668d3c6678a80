// Bounded writes through the sandbox's load balancer while a failover drill
// runs (tests/sandbox/test_drills.py, through paas_testlib.steady_traffic).
// Each iteration creates one portfolio through the app's form, as a user
// would (the form's session cookie and CSRF token, the POST, the page it
// redirects to), named "<RUN> <vu>-<iteration>", and logs one JSON line:
// when, the name, the final status. A write the app acknowledged ended in 200
// on the new portfolio's page; the test then looks for every such name in the
// database. Bounded twice: at most MAX_SECONDS, and VUS users with a pause
// (under the load balancer's per-client limit of 20 r/s).
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';

const name = __ENV.SITE;              // the site's public name
const address = __ENV.LB_ADDRESS;     // the load balancer it is pinned to, as DNS would
const base = `https://${name}`;
const DRILL_AGENT = 'k6 failover drill (tests/sandbox/test_drills.py)';

export const options = {
  scenarios: {
    writes: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 2),
      duration: `${__ENV.MAX_SECONDS || 300}s`,
      gracefulStop: '5s',
    },
  },
  hosts: { [name]: address },
  // Named in the load balancer's log: test_golive.py tells the drill's failed writes from any other 5xx.
  userAgent: DRILL_AGENT,
  // The certificate is verified: SSL_CERT_FILE names the roots of the sandbox's ACME server.
};

export default function () {
  const portfolio = `${__ENV.RUN} ${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  const started = Date.now();
  const form = http.get(`${base}/portfolios/new`, { timeout: '10s' });
  const token = /name="authenticity_token" value="([^"]+)"/.exec(form.body || '');
  let status = form.status;
  let page = '';
  if (form.status === 200 && token) {
    const created = http.post(`${base}/portfolios`, {
      authenticity_token: token[1], 'portfolio[name]': portfolio,
      'portfolio[owner]': 'k6', 'portfolio[description]': 'written during a failover drill',
    }, { timeout: '10s' });
    status = created.status;
    page = created.url;
  }
  const acknowledged = status === 200 && /\/portfolios\/\d+$/.test(page);
  console.log(JSON.stringify({ started, ended: Date.now(), name: portfolio, status, acknowledged }));
  sleep(0.5);
}

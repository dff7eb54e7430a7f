/**
 * Walks the dev authorization server's login and consent pages as a browser would, and returns the
 * authorization code from the redirect. Used by the demo client so the OAuth flow runs without a browser.
 */
export async function loginHeadlessly(
  authorizationUrl: URL,
  redirectUri: string,
  user: string,
): Promise<string> {
  const cookies = new Map<string, string>();
  let next: { url: string; body?: URLSearchParams } = { url: authorizationUrl.href };
  for (let step = 0; step < 20; step++) {
    const res = await fetch(next.url, {
      method: next.body ? 'POST' : 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(next.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(next.body ? { body: next.body } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1).trim();
      if (value) cookies.set(pair.slice(0, eq).trim(), value);
      else cookies.delete(pair.slice(0, eq).trim());
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      const target = new URL(location, next.url);
      if (target.href.startsWith(redirectUri)) {
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`authorization refused: ${target.searchParams.get('error_description')}`);
        return code;
      }
      next = { url: target.href };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200)
      throw new Error(`authorization server answered ${res.status}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`no login or consent form at ${next.url}`);
    next = {
      url: new URL(action, next.url).href,
      body: new URLSearchParams(prompt === 'login' ? { prompt, login: user, password: 'any' } : { prompt }),
    };
  }
  throw new Error('the authorization flow did not end after 20 steps');
}

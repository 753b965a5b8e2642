// JSON posts to the studio's endpoints, with the session's CSRF token in its header.
export async function postJson(url, body, csrf) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  let payload = {};
  try {
    payload = await response.json();
  } catch (error) {
    payload = { detail: `The server answered ${response.status} without JSON.` };
  }
  return { status: response.status, payload };
}

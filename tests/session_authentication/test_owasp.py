#!/usr/bin/env python3
"""The users API against the 25-item OWASP list of issue 8, per profile.

Each ``test_NN_...`` runs the API in the ``seed`` profile (the default:
every seed transcript holds) and in ``production``. In production every
item holds. In seed, the items the seed contract forbids (SEED_EXEMPT)
assert the seed's behaviour, and that the variable README's security
section names for it does fix it. Items 22-24 are about password reset,
which the users API does not have (the auth service does:
tests/security/).
"""
import http.client
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest
import requests

from tests.support import PYTHON, ROOT

SEED_NAME = "_my_session_id"
PROD_NAME = "__Host-_my_session_id"
EMAIL = "bob@hbtn.io"
PASSWORD = "correct horse battery"
# Items the seed contract forbids, with the variable that fixes each.
SEED_EXEMPT = {
    1: "APP_PROFILE=production",
    5: "SESSION_COOKIE_SECURE=1",
    8: "APP_PROFILE=production",
    10: "SESSION_IDLE_TIMEOUT",
    11: "SESSION_DURATION",
    15: "APP_PROFILE=production",
    20: "PASSWORD_MIN_LENGTH",
}
PROFILES = ["seed", "production"]


class Client:
    """An API server of one profile, with the cookie sent by hand (a
    Secure cookie would not be sent over plain HTTP by requests)."""

    def __init__(self, api: object, profile: str) -> None:
        """Wrap a started server."""
        self.api = api
        self.profile = profile
        self.name = PROD_NAME if profile == "production" else SEED_NAME

    def login(self, email: str = EMAIL, password: str = PASSWORD,
              **kwargs: object) -> requests.Response:
        """POST the login form."""
        return self.api.post("/auth_session/login",
                             data={"email": email, "password": password},
                             **kwargs)

    def session(self, email: str = EMAIL, password: str = PASSWORD) -> str:
        """Log in and return the session id."""
        answer = self.login(email, password)
        assert answer.status_code == 200, answer.text
        return answer.cookies[self.name]

    def cookie(self, session_id: str) -> dict:
        """Return the headers carrying a session cookie."""
        return {"Cookie": "{}={}".format(self.name, session_id)}

    def me(self, session_id: str) -> int:
        """Return the status of GET /users/me with a session."""
        return self.api.get("/users/me",
                            headers=self.cookie(session_id)).status_code

    def call(self, method: str, path: str, session_id: str,
             **kwargs: object) -> requests.Response:
        """Send a request with a session cookie."""
        headers = dict(self.cookie(session_id), **kwargs.pop("headers", {}))
        return getattr(self.api, method)(path, headers=headers, **kwargs)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these items are about the API, not its database (the
    stores' own tests run on PostgreSQL too)."""
    return "sqlite:///{}".format(tmp_path / "owasp.db")


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    """Each test runs in both profiles."""
    return request.param


@pytest.fixture
def serve(profile: str, start_api: Callable, make_user: Callable,
          redis_url: str) -> Callable:
    """Return a function starting the API in this test's profile, with
    the test user (cost 4: production rehashes it at the first login)."""
    made = []

    def start(auth_type: str = "session_db_auth", user: bool = True,
              **env: str) -> Client:
        """Start a server; env adds to the profile's environment."""
        if user and not made:
            made.append(make_user(EMAIL, PASSWORD))
        base = {"APP_PROFILE": profile, "REDIS_URL": redis_url}
        if profile == "production":
            base["BCRYPT_ROUNDS"] = "10"
        base.update(env)
        return Client(start_api(auth_type, **base), profile)

    return start


def set_cookie_header(answer: requests.Response) -> str:
    """Return the Set-Cookie header of an answer."""
    return answer.headers.get("Set-Cookie", "")


def exempt(profile: str, item: int) -> bool:
    """Tell whether this item is a seed exemption in this profile."""
    return profile == "seed" and item in SEED_EXEMPT


def test_01_session_id_csprng_128_bits(serve: Callable,
                                       profile: str) -> None:
    """Ids are unique and carry >= 128 random bits (production: 256-bit
    secrets.token_urlsafe; seed: the seed's uuid4, 122 bits)."""
    api = serve()
    ids = {api.session() for _ in range(20)}
    assert len(ids) == 20
    if exempt(profile, 1):
        assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                                r"[89ab][0-9a-f]{3}-[0-9a-f]{12}", one)
                   for one in ids)
        return
    for one in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", one)  # 256 bits


def test_02_session_id_never_in_urls_or_logs(
        serve: Callable, profile: str, tmp_path: Path) -> None:
    """The id travels in the cookie only: the access log, the session
    list and the stored rows (production: digests) never show it."""
    api = serve(production=True, workers=1)
    session_id = api.session()
    assert api.me(session_id) == 200
    listed = api.call("get", "/auth_session/sessions", session_id)
    assert listed.status_code == 200
    assert session_id not in listed.text
    log = api.api.server.output()
    assert "/users/me" in log and session_id not in log
    stored = stored_session_ids(api)
    if profile == "production":
        assert session_id not in stored and len(stored) == 1
        assert re.fullmatch(r"[0-9a-f]{64}", stored[0])


def stored_session_ids(api: Client) -> list:
    """Return the session_id column of every stored session row."""
    code = ("from models.user_session import UserSession\n"
            "print('\\n'.join(s.session_id for s in UserSession.all()))")
    env = api.api.server.env
    done = subprocess.run([PYTHON, "-c", code], env=env, text=True,
                          capture_output=True, check=True, timeout=60,
                          cwd=api.api.server.cwd)
    return done.stdout.split()


def test_03_new_id_at_login_old_one_dies(serve: Callable) -> None:
    """A login carrying a session gets a new id; the old one is dead."""
    api = serve()
    old = api.session()
    again = api.login(headers=api.cookie(old))
    new = again.cookies[api.name]
    assert new != old
    assert api.me(old) == 403 and api.me(new) == 200


def test_04_unknown_client_ids_never_adopted(serve: Callable) -> None:
    """A made-up id authenticates nothing, and a login carrying one gets
    a server-made id instead."""
    api = serve()
    made_up = "a" * 43
    assert api.me(made_up) == 403
    answer = api.login(headers=api.cookie(made_up))
    assert answer.cookies[api.name] != made_up
    assert api.me(made_up) == 403


def test_05_cookie_secure(serve: Callable, profile: str) -> None:
    """Production cookies are Secure; the seed's curl transcripts run
    over plain HTTP, and SESSION_COOKIE_SECURE=1 makes them Secure."""
    header = set_cookie_header(serve().login())
    if exempt(profile, 5):
        assert "Secure" not in header
        fixed = serve(SESSION_COOKIE_SECURE="1")
        assert "Secure" in set_cookie_header(fixed.login())
        return
    assert "Secure" in header


def test_06_cookie_httponly(serve: Callable) -> None:
    """Scripts cannot read the session cookie."""
    assert "HttpOnly" in set_cookie_header(serve().login())


def test_07_cookie_samesite(serve: Callable) -> None:
    """SameSite=Lax by default; SESSION_COOKIE_SAMESITE=Strict."""
    assert "SameSite=Lax" in set_cookie_header(serve().login())
    strict = serve(SESSION_COOKIE_SAMESITE="Strict")
    assert "SameSite=Strict" in set_cookie_header(strict.login())


def test_08_cookie_host_prefix(serve: Callable, profile: str) -> None:
    """Production names the cookie __Host-<SESSION_NAME>, Path=/ and no
    Domain; the seed's name is SESSION_NAME itself."""
    header = set_cookie_header(serve().login())
    if exempt(profile, 8):
        assert header.startswith(SEED_NAME + "=")
        return
    assert header.startswith(PROD_NAME + "=")
    assert "Path=/" in header and "Domain" not in header


@pytest.mark.parametrize("auth_type", ["session_auth", "session_db_auth",
                                       "session_redis_auth"])
def test_09_logout_and_expiry_invalidate_server_side(
        serve: Callable, auth_type: str) -> None:
    """After logout the id is dead even if the client keeps it; the
    cookie is deleted with the attributes it was set with."""
    api = serve(auth_type)
    login = api.login()
    session_id = login.cookies[api.name]
    out = api.call("delete", "/auth_session/logout", session_id)
    assert out.status_code == 200
    for attribute in ("Path=/", "HttpOnly", "SameSite=Lax"):
        assert attribute in set_cookie_header(out)
    assert ("Secure" in set_cookie_header(out)) == (
        "Secure" in set_cookie_header(login))
    assert api.me(session_id) == 403


def _kept_alive(api: Client, session_id: str, seconds: float) -> bool:
    """Use a session every 0.5 s for some seconds; tell whether every
    request was accepted."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if api.me(session_id) != 200:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.parametrize("auth_type", ["session_auth", "session_db_auth",
                                       "session_redis_auth"])
def test_10_idle_timeout(serve: Callable, profile: str,
                         auth_type: str) -> None:
    """A session unused for SESSION_IDLE_TIMEOUT seconds ends; activity
    keeps it alive past that time. Off by default in seed."""
    if exempt(profile, 10) and auth_type == "session_db_auth":
        api = serve(auth_type)
        session_id = api.session()
        time.sleep(2.5)
        assert api.me(session_id) == 200
    api = serve(auth_type, SESSION_IDLE_TIMEOUT="2")
    active, idle = api.session(), api.session()
    assert _kept_alive(api, active, 3.0)
    assert api.me(idle) == 403
    time.sleep(2.5)
    assert api.me(active) == 403


@pytest.mark.parametrize("auth_type", ["session_auth", "session_db_auth",
                                       "session_redis_auth"])
def test_11_absolute_timeout(serve: Callable, profile: str,
                             auth_type: str) -> None:
    """A session ends SESSION_DURATION seconds after login however
    active it is (production: 8 hours by default; seed: no lifetime
    unless SESSION_DURATION is set, and none for session_auth whatever
    is set: APP_PROFILE=production gives it one)."""
    if exempt(profile, 11) and auth_type != "session_redis_auth":
        # session_auth has no lifetime in the seed, whatever is set.
        env = {"SESSION_DURATION": "2"} if auth_type == "session_auth" \
            else {}
        api = serve(auth_type, **env)
        session_id = api.session()
        time.sleep(2.5)
        assert api.me(session_id) == 200
        if auth_type == "session_auth":
            return
    api = serve(auth_type, SESSION_DURATION="3", SESSION_IDLE_TIMEOUT="2")
    session_id = api.session()
    assert _kept_alive(api, session_id, 2.0)
    deadline = time.monotonic() + 10
    while api.me(session_id) == 200:
        assert time.monotonic() < deadline, "the session never ended"
        time.sleep(0.5)


def test_12_timeouts_from_server_side_timestamps(serve: Callable) -> None:
    """The server decides: the cookie has no lifetime of its own to
    extend, and a client that keeps sending an expired id is refused."""
    api = serve(SESSION_DURATION="2")
    login = api.login()
    header = set_cookie_header(login)
    assert "Expires" not in header and "Max-Age" not in header
    session_id = login.cookies[api.name]
    time.sleep(3)
    assert api.me(session_id) == 403


def test_13_password_change_ends_other_sessions(serve: Callable) -> None:
    """Changing the password ends every other session of the user; the
    one that changed it stays."""
    api = serve()
    other, mine = api.session(), api.session()
    changed = api.call("put", "/users/me/password", mine, json={
        "current_password": PASSWORD, "new_password": "a new passphrase"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"ended_sessions": 1}
    assert api.me(other) == 403 and api.me(mine) == 200
    assert api.login().status_code in (401, 404)
    assert api.login(password="a new passphrase").status_code == 200


@pytest.mark.parametrize("auth_type", ["session_exp_auth",
                                       "session_db_auth",
                                       "session_redis_auth"])
def test_14_list_and_end_sessions_deleted_user_gone(
        serve: Callable, auth_type: str, redis_url: str) -> None:
    """A user lists its sessions, ends one, ends all others; deleting a
    user leaves none of its sessions (no row, no Redis key)."""
    api = serve(auth_type)
    first, second, third = api.session(), api.session(), api.session()
    listed = api.call("get", "/auth_session/sessions", third).json()
    assert len(listed) == 3
    assert [one["current"] for one in listed].count(True) == 1
    handle = next(one["id"] for one in listed if not one["current"])
    ended = api.call("delete", "/auth_session/sessions/" + handle, third)
    assert ended.status_code == 200
    assert api.call("delete", "/auth_session/sessions/" + handle,
                    third).status_code == 404
    assert sorted(api.me(one) for one in (first, second)) == [200, 403]
    others = api.call("delete", "/auth_session/sessions", third)
    assert others.json() == {"ended": 1}
    assert api.me(first) == 403 and api.me(second) == 403
    assert api.me(third) == 200
    user_id = api.call("get", "/users/me", third).json()["id"]
    removed = api.call("delete", "/users/me" if api.profile ==
                       "production" else "/users/" + user_id, third)
    assert removed.status_code == 200
    assert api.me(third) == 403
    if auth_type == "session_redis_auth":
        client = __import__("redis").Redis.from_url(redis_url)
        assert not client.keys("users_api:*{}*".format(user_id))
        assert not client.keys("users_api:session:*")
    if auth_type == "session_db_auth":
        assert stored_session_ids(api) == []


def test_15_generic_authentication_errors(serve: Callable,
                                          profile: str) -> None:
    """Unknown e-mail and wrong password answer alike in production;
    the seed's transcripts show 404 and 401 with their own bodies."""
    api = serve()
    unknown = api.login("nobody@hbtn.io", PASSWORD)
    wrong = api.login(EMAIL, "not the password")
    if exempt(profile, 15):
        assert (unknown.status_code, wrong.status_code) == (404, 401)
        assert unknown.json() == {"error": "no user found for this email"}
        return
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() == {
        "error": "wrong email or password"}


def test_16_no_timing_oracle_also_after_cost_change(
        serve: Callable, make_user: Callable, api_env: dict) -> None:
    """Unknown e-mail, wrong password of a user hashed at a lower cost
    (4) and at a higher one (11) than BCRYPT_ROUNDS (10) take alike:
    each failing check spends the cost of the costliest stored hash.
    Medians of interleaved tries; a real oracle is a factor of 8+."""
    make_user("high@hbtn.io", PASSWORD)
    subprocess.run(
        [PYTHON, "-c", "from models.user import User\n"
         "u = User.search({'email': 'high@hbtn.io'})[0]\n"
         "u.password = 'x'\nu.save()"],
        env=dict(api_env, BCRYPT_ROUNDS="11"),
        cwd=ROOT / "session_authentication", check=True, timeout=60)
    api = serve(BCRYPT_ROUNDS="10", ACCOUNT_FAILURE_LIMIT="100")
    targets = {"unknown": "nobody@hbtn.io", "low": EMAIL,
               "high": "high@hbtn.io"}
    times = {name: [] for name in targets}
    for _ in range(5):
        for name, email in targets.items():
            start = time.perf_counter()
            assert api.login(email, "wrong guess").status_code in (401,
                                                                    404)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values)
               for name, values in times.items()}
    for name in ("low", "high"):
        ratio = medians[name] / medians["unknown"]
        assert 0.6 < ratio < 1.7, medians


def _login_from(port: int, source: str, email: str,
                password: str) -> tuple:
    """POST a login from a given loopback address; (status, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    body = "email={}&password={}".format(email, password)
    conn.request("POST", "/api/v1/auth_session/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status, dict(answer.getheaders())


def _basic_from(port: int, source: str, email: str, password: str) -> int:
    """GET /users/me with Basic credentials from a loopback address."""
    import base64
    token = base64.b64encode("{}:{}".format(email, password).encode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    conn.request("GET", "/api/v1/users/me", headers={
        "Authorization": "Basic " + token.decode()})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status


def test_17_throttling_per_account_and_address_without_lockout(
        serve: Callable) -> None:
    """Login and HTTP Basic: after 5 failures of one address on one
    account its next check waits (429, Retry-After) without bcrypt;
    the owner from another address still logs in; an account attacked
    from many addresses is slowed by at most a minute, never locked."""
    api = serve()
    port = api.api.server.port
    for _ in range(5):
        assert _login_from(port, "127.0.0.2", EMAIL, "guess")[0] == 401
    status, headers = _login_from(port, "127.0.0.2", EMAIL, PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert _login_from(port, "127.0.0.3", EMAIL, PASSWORD)[0] == 200
    for number in range(4, 24):
        _login_from(port, "127.0.0.{}".format(number), EMAIL, "guess")
    status, headers = _login_from(port, "127.0.1.1", EMAIL, PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) <= 61
    basic = serve("basic_auth", user=False)
    port = basic.api.server.port
    for _ in range(5):
        assert _basic_from(port, "127.0.0.2", EMAIL, "guess") == 403
    assert _basic_from(port, "127.0.0.2", EMAIL, PASSWORD) == 429
    assert _basic_from(port, "127.0.0.3", EMAIL, PASSWORD) == 200


def test_18_slow_hash_cost_at_least_10(serve: Callable, profile: str,
                                       api_env: dict,
                                       tmp_path: Path) -> None:
    """Hashes are bcrypt at cost 12 by default; production refuses to
    start with a cost below 10."""
    from models.user import DEFAULT_ROUNDS
    assert DEFAULT_ROUNDS >= 10
    if profile == "production":
        env = dict(api_env, APP_PROFILE="production", BCRYPT_ROUNDS="9",
                   AUTH_TYPE="session_db_auth")
        done = subprocess.run([PYTHON, "-m", "api.v1.app"], env=env,
                              cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2
        assert done.stderr.strip().count("\n") == 0
        assert "BCRYPT_ROUNDS" in done.stderr


def test_19_rehash_on_cost_change(serve: Callable) -> None:
    """A hash made at cost 4 is replaced at the first login by one at
    the server's cost."""
    api = serve(BCRYPT_ROUNDS="10")
    assert stored_hash_cost(api) == 4
    api.session()
    assert stored_hash_cost(api) == 10


def stored_hash_cost(api: Client) -> int:
    """Return the bcrypt cost of the test user's stored hash."""
    code = ("from models.user import User, hash_cost\n"
            "print(hash_cost(User.search({'email': %r})[0].password))"
            % EMAIL)
    done = subprocess.run([PYTHON, "-c", code], env=api.api.server.env,
                          text=True, capture_output=True, check=True,
                          timeout=60, cwd=api.api.server.cwd)
    return int(done.stdout)


def _admin_headers(api: Client) -> dict:
    """Return the cookie headers of an admin session (production) or of
    the test user (seed: any user may create users)."""
    return api.cookie(api.session())


def test_20_long_passwords_any_script_no_truncation(
        serve: Callable, profile: str, make_user: Callable,
        api_env: dict) -> None:
    """64 "é" (128 bytes) work; two passwords equal in their first 72
    bytes are different passwords; production wants 8 characters at
    least (seed: PASSWORD_MIN_LENGTH sets a minimum)."""
    make_user(EMAIL, PASSWORD)
    subprocess.run([PYTHON, "-m", "api.v1.cli", "admin", EMAIL],
                   env=api_env, cwd=ROOT / "session_authentication",
                   check=True, timeout=60, capture_output=True)
    api = serve(user=False)
    headers = _admin_headers(api)
    long_one = "é" * 72 + "x"
    created = api.api.post("/users", headers=headers, json={
        "email": "long@hbtn.io", "password": long_one})
    assert created.status_code == 201, created.text
    assert api.login("long@hbtn.io", long_one).status_code == 200
    assert api.login("long@hbtn.io", "é" * 72 + "y").status_code == 401
    short = api.api.post("/users", headers=headers, json={
        "email": "short@hbtn.io", "password": "abc"})
    if exempt(profile, 20):
        assert short.status_code == 201
        fixed = serve(user=False, PASSWORD_MIN_LENGTH="8")
        short = fixed.api.post("/users", headers=headers, json={
            "email": "short2@hbtn.io", "password": "abc"})
    assert short.status_code == 400
    assert "at least 8 characters" in short.json()["error"]


def test_21_password_change_needs_current_password(serve: Callable) -> None:
    """A wrong or missing current password changes nothing."""
    api = serve()
    session_id = api.session()
    wrong = api.call("put", "/users/me/password", session_id, json={
        "current_password": "not it", "new_password": "another one!"})
    assert wrong.status_code == 403
    missing = api.call("put", "/users/me/password", session_id, json={
        "new_password": "another one!"})
    assert missing.status_code == 400
    assert api.login().status_code == 200


@pytest.mark.parametrize("item", [22, 23, 24])
def test_22_to_24_password_reset_not_applicable(serve: Callable,
                                                item: int) -> None:
    """Reset tokens (22), the forgot-password answer (23) and "reset
    does not log in" (24) concern the auth service, tested in
    tests/security/; the users API has no reset route at all."""
    api = serve()
    assert api.api.post("/reset_password", data={
        "email": EMAIL}).status_code in (401, 404)
    assert api.api.server.url and item in (22, 23, 24)


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_25_cross_origin_cookie_writes_refused(serve: Callable,
                                               headers: dict) -> None:
    """A write carrying the session cookie from another origin is
    refused (403) and changes nothing; a login from another origin too;
    the same request from this origin (or a non-browser client) works.
    No CORS answer for an origin not listed in CORS_ORIGINS (seed:
    "*", without credentials)."""
    api = serve()
    session_id = api.session()
    me = "/users/" + api.call("get", "/users/me", session_id).json()["id"]
    refused = api.call("put", me, session_id, headers=headers,
                       json={"first_name": "Mallory"})
    assert refused.status_code == 403
    assert api.call("get", me, session_id).json()[
        "first_name"] != "Mallory"
    assert api.login(headers=headers).status_code == 403
    port = api.api.server.port
    same = {"Origin": "http://127.0.0.1:{}".format(port),
            "Sec-Fetch-Site": "same-origin"}
    assert api.call("put", me, session_id, headers=same,
                    json={"first_name": "Bob"}).status_code == 200
    preflight = requests.options(
        api.api.url + "/users/me", timeout=30, headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "PUT"})
    allowed = preflight.headers.get("Access-Control-Allow-Origin")
    # The seed's rule (origins "*") reflects any origin, never with
    # credentials; production answers no origin but CORS_ORIGINS.
    assert allowed is None or api.profile == "seed"
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    listed = serve(CORS_ORIGINS="https://app.example")
    good = requests.options(listed.api.url + "/users/me", timeout=30,
                            headers={"Origin": "https://app.example",
                                     "Access-Control-Request-Method":
                                     "PUT"})
    assert good.headers["Access-Control-Allow-Origin"] == \
        "https://app.example"
    mine = listed.session()
    assert listed.call("put", me, mine, headers={
        "Origin": "https://app.example"}, json={}).status_code == 200


def test_readme_lists_every_seed_exemption() -> None:
    """README's security section names each seed exemption's variable."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Security", 1)[1].split("\n## ", 1)[0]
    for item, variable in SEED_EXEMPT.items():
        line = next((one for one in section.splitlines()
                     if re.match(r"\|\s*{}\s*\|".format(item), one)), "")
        assert variable in line, (item, variable)


def test_production_authorization(serve: Callable, profile: str,
                                  api_env: dict, make_user: Callable
                                  ) -> None:
    """Production: a user reads/changes/deletes only itself, an admin
    manages everyone, creating users is for admins unless OPEN_SIGNUP;
    the seed lets any authenticated user do all of it."""
    if profile == "seed":
        # The seed's rule: any authenticated user manages every user.
        api = serve()
        bob = api.session()
        assert api.call("get", "/users", bob).status_code == 200
        assert api.call("post", "/users", bob, json={
            "email": "new@hbtn.io", "password": PASSWORD}).status_code == 201
        return
    make_user("admin@hbtn.io", PASSWORD)
    subprocess.run([PYTHON, "-m", "api.v1.cli", "admin", "admin@hbtn.io"],
                   env=api_env, cwd=ROOT / "session_authentication",
                   check=True, timeout=60, capture_output=True)
    api = serve()
    bob = api.session()
    admin = api.session("ADMIN@hbtn.io ", PASSWORD)
    bob_id = api.call("get", "/users/me", bob).json()["id"]
    admin_id = api.call("get", "/users/me", admin).json()["id"]
    assert api.call("get", "/users", bob).status_code == 403
    assert api.call("get", "/users/" + admin_id, bob).status_code == 403
    assert api.call("delete", "/users/" + admin_id, bob).status_code == 403
    assert api.call("get", "/users/" + bob_id, bob).status_code == 200
    assert api.call("post", "/users", bob, json={
        "email": "new@hbtn.io", "password": PASSWORD}).status_code == 403
    assert api.call("get", "/users", admin).status_code == 200
    assert api.call("put", "/users/" + bob_id, admin,
                    json={"last_name": "B"}).status_code == 200
    assert api.call("post", "/users", admin, json={
        "email": "New@hbtn.io", "password": PASSWORD}).status_code == 201
    duplicate = api.call("post", "/users", admin, json={
        "email": "new@HBTN.io", "password": PASSWORD})
    assert duplicate.status_code == 400
    assert "to_json" not in duplicate.text
    assert "is_admin" not in api.call("get", "/users/me", admin).text
    signup = serve(OPEN_SIGNUP="1")
    assert signup.api.post("/users", json={
        "email": "self@hbtn.io", "password": PASSWORD}).status_code == 201

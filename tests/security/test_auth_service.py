#!/usr/bin/env python3
"""The auth service against the audit's 25 items, in both profiles.

Each ``test_NN_...`` runs once with ``APP_PROFILE=seed`` and once with
``APP_PROFILE=production``. In production every item holds (or is not
applicable, with the reason and what stands in for it in the test's
docstring). In seed, an item the seed's contract forbids asserts the
seed's behaviour and that the variable listed in
docs/user-authentication-service.md ("Security") fixes it.

Apps run in-process on a throw-away SQLite file with an injected clock
(timeouts without sleeping); the out-of-band reset runs live (server,
mail worker, Redis, SMTP). bcrypt costs are the lowest each profile
allows: 4 in seed, 10 in production.
"""
import base64
import hashlib
import logging
import statistics
import time
from typing import Any, Callable, Optional

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.user_authentication_service.conftest import FakeClock

PASSWORD = "correct horse"
ROUNDS = {"seed": 4, "production": 10}
EVIL = "https://evil.example"


class Service:
    """An in-process app of one profile, with a cookie-less test client."""

    def __init__(self, profile: str, database_url: str, clock: FakeClock,
                 **overrides: Any) -> None:
        """Build the app with the profile's test settings plus overrides."""
        from app import create_app

        config = {"APP_PROFILE": profile, "DATABASE_URL": database_url,
                  "BCRYPT_ROUNDS": ROUNDS[profile], "CLOCK": clock,
                  "RATELIMIT_STORAGE_URI": "memory://"}
        config.update(overrides)
        self.app = create_app(config)
        self.config = self.app.config
        self.auth = self.app.extensions["auth"]
        self.client = self.app.test_client(use_cookies=False)
        self.database_url = database_url

    @property
    def cookie(self) -> str:
        """Return the session cookie's name."""
        return self.config["SESSION_COOKIE_NAME"]

    def headers(self, session_id: Optional[str] = None,
                **extra: str) -> dict:
        """Return request headers carrying a session cookie, if any."""
        headers = {key.replace("_", "-"): value
                   for key, value in extra.items()}
        if session_id is not None:
            headers["Cookie"] = "{}={}".format(self.cookie, session_id)
        return headers

    def register(self, email: str = "bob@me.com",
                 password: str = PASSWORD) -> Any:
        """Register a user with POST /users."""
        return self.client.post("/users", data={"email": email,
                                                "password": password})

    def login(self, email: str = "bob@me.com", password: str = PASSWORD,
              session_id: Optional[str] = None, **headers: str) -> Any:
        """POST /sessions, optionally carrying a session cookie."""
        return self.client.post(
            "/sessions", data={"email": email, "password": password},
            headers=self.headers(session_id, **headers))

    def session_of(self, response: Any) -> str:
        """Return the session id a login answer set."""
        name, value, _ = set_cookie(response)
        assert name == self.cookie
        return value

    def signed_in(self, email: str = "bob@me.com") -> str:
        """Register (if needed) and log in; return the session id."""
        self.register(email)
        response = self.login(email)
        assert response.status_code == 200, response.data
        return self.session_of(response)

    def profile(self, session_id: str) -> Any:
        """GET /profile with a session cookie."""
        return self.client.get("/profile", headers=self.headers(session_id))

    def logout(self, session_id: str, **headers: str) -> Any:
        """DELETE /sessions with a session cookie."""
        return self.client.delete("/sessions",
                                  headers=self.headers(session_id, **headers))

    def reset_token(self, email: str = "bob@me.com") -> str:
        """Return a reset token as the user would receive it.

        Seed delivery: from the answer. E-mail delivery: the answer has
        none; the token is issued as the mail worker issues it
        (``mailer.Mailer.process``; the live mail path is test_23's).
        """
        answer = self.client.post("/reset_password", data={"email": email})
        assert answer.status_code == 200
        if self.config["RESET_TOKEN_DELIVERY"] == "response":
            return answer.get_json()["reset_token"]
        assert "reset_token" not in answer.get_json()
        return self.auth.get_reset_password_token(email)

    def put_password(self, token: str, password: str,
                     email: str = "bob@me.com", **headers: str) -> Any:
        """Set a new password with PUT /reset_password."""
        return self.client.put("/reset_password", headers=headers, data={
            "email": email, "reset_token": token, "new_password": password})

    def column(self, name: str, email: str = "bob@me.com") -> Any:
        """Read one column of a user's row straight from the database."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(
                    "SELECT {} FROM users WHERE email = :e".format(name)),
                    {"e": email}).scalar()
        finally:
            engine.dispose()


def set_cookie(response: Any) -> tuple:
    """Split the answer's Set-Cookie into (name, value, attributes)."""
    header = response.headers["Set-Cookie"]
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    attributes = {}
    for part in rest:
        key, _, val = part.partition("=")
        attributes[key.lower()] = val
    return name, value, attributes


@pytest.fixture(params=["seed", "production"])
def profile(request: pytest.FixtureRequest) -> str:
    """Run a test once per profile."""
    return request.param


@pytest.fixture
def service(profile: str, sqlite_url: str, clock: FakeClock) -> Service:
    """Return the auth service in the test's profile."""
    return Service(profile, sqlite_url, clock)


@pytest.fixture
def make_service(profile: str, sqlite_url: str,
                 clock: FakeClock) -> Callable[..., Service]:
    """Return a builder of services of the profile, with overrides."""
    return lambda **overrides: Service(profile, sqlite_url, clock,
                                       **overrides)


def test_01_session_id_csprng_128_bits(service: Service,
                                       make_service: Callable) -> None:
    """Session ids come from the OS CSPRNG (``secrets``/``uuid4``).

    Production: 256 bits (43 URL-safe characters). Seed: the seed's
    UUID4 (122 random bits, ``create_session`` must return "a UUID");
    ``TOKEN_FORMAT=token`` gives 256 bits there too.
    """
    ids = {service.signed_in("u{}@me.com".format(n)) for n in range(3)}
    assert len(ids) == 3
    if service.config["APP_PROFILE"] == "seed":
        assert all(len(i) == 36 and i[14] == "4" for i in ids)
        service = make_service(TOKEN_FORMAT="token")
        ids = {service.signed_in("t{}@me.com".format(n)) for n in range(3)}
    for session_id in ids:
        raw = base64.urlsafe_b64decode(session_id + "=")
        assert len(raw) * 8 >= 256


def test_02_session_id_never_in_urls_or_logs(
        service: Service, make_service: Callable,
        caplog: pytest.LogCaptureFixture) -> None:
    """The id travels only in the cookie: never in a URL, a body, a
    redirect or a log line (every logger at DEBUG, failing requests
    included). Production stores only its SHA-256 digest; seed stores
    the id (the seed's ``User.session_id``), ``SESSION_ID_DIGEST=1``
    stores the digest."""
    caplog.set_level(logging.DEBUG)
    session_id = service.signed_in()
    answers = [service.profile(session_id), service.profile(session_id[:-1]),
               service.logout(session_id)]
    for answer in answers:
        assert session_id not in answer.get_data(as_text=True)
        assert session_id not in answer.headers.get("Location", "")
    assert session_id not in caplog.text
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    if service.config["APP_PROFILE"] == "seed":
        service.login()
        assert service.column("session_id") != digest
        service = make_service(SESSION_ID_DIGEST=True)
    session_id = service.session_of(service.login())
    assert service.column("session_id") == hashlib.sha256(
        session_id.encode()).hexdigest()
    assert service.profile(session_id).status_code == 200


def test_03_new_id_at_login_old_one_dies(service: Service) -> None:
    """A login gives a new id and ends the session the request carried
    (its own user's, or another user's)."""
    first = service.signed_in()
    second = service.session_of(service.login(session_id=first))
    assert second != first
    assert service.profile(first).status_code == 403
    assert service.profile(second).status_code == 200
    other = service.signed_in("eve@me.com")
    service.login(session_id=other)
    assert service.profile(other).status_code == 403


def test_04_unknown_client_ids_never_adopted(service: Service) -> None:
    """A made-up id sent at login is not adopted, and finds no one."""
    service.register()
    for made_up in ("75c89af8-1729-44d9-a592-41b5e59de9a1", "A" * 43):
        issued = service.session_of(service.login(session_id=made_up))
        assert issued != made_up
        assert service.profile(made_up).status_code == 403


def test_05_cookie_secure(service: Service, make_service: Callable) -> None:
    """Production cookies are Secure. Seed: the seed's cookie is not
    (its transcripts use plain http); SESSION_COOKIE_SECURE=1 fixes it."""
    service.register()
    _, _, attributes = set_cookie(service.login())
    if service.config["APP_PROFILE"] == "seed":
        assert "secure" not in attributes
        service = make_service(SESSION_COOKIE_SECURE=True)
        _, _, attributes = set_cookie(service.login())
    assert "secure" in attributes


def test_06_cookie_httponly(service: Service) -> None:
    """The session cookie is HttpOnly, when set and when deleted."""
    session_id = service.signed_in()
    assert "httponly" in set_cookie(service.login())[2]
    session_id = service.session_of(service.login())
    assert "httponly" in set_cookie(service.logout(session_id))[2]


def test_07_cookie_samesite(service: Service, make_service: Callable
                            ) -> None:
    """SameSite=Lax by default; SESSION_COOKIE_SAMESITE=Strict works."""
    service.register()
    assert set_cookie(service.login())[2]["samesite"] == "Lax"
    strict = make_service(SESSION_COOKIE_SAMESITE="Strict")
    assert set_cookie(strict.login())[2]["samesite"] == "Strict"


def test_08_host_prefix(service: Service, make_service: Callable) -> None:
    """Production's cookie is ``__Host-session_id``: Secure, Path=/, no
    Domain. Seed: the seed's name ``session_id`` (its clients read it);
    SESSION_COOKIE_NAME=__Host-session_id with SESSION_COOKIE_SECURE=1
    fixes it, and a __Host- name without Secure refuses to start."""
    from settings import ConfigError

    service.register()
    name, _, attributes = set_cookie(service.login())
    if service.config["APP_PROFILE"] == "seed":
        assert name == "session_id"
        with pytest.raises(ConfigError):
            make_service(SESSION_COOKIE_NAME="__Host-session_id")
        service = make_service(SESSION_COOKIE_NAME="__Host-session_id",
                               SESSION_COOKIE_SECURE=True)
        name, _, attributes = set_cookie(service.login())
    assert name == "__Host-session_id"
    assert "secure" in attributes and attributes["path"] == "/"
    assert "domain" not in attributes


def test_09_logout_and_expiry_end_sessions_server_side(
        service: Service, make_service: Callable, clock: FakeClock) -> None:
    """Logout clears the session in the database (the id stops working
    even if a client keeps it) and deletes the cookie with the
    attributes it was set with; an expired session is ended too."""
    session_id = service.signed_in()
    _, _, set_with = set_cookie(service.login(session_id=session_id))
    session_id = service.session_of(service.login())
    answer = service.logout(session_id)
    assert answer.status_code == 302
    name, value, deleted_with = set_cookie(answer)
    assert (name, value) == (service.cookie, "")
    for key in ("secure", "httponly", "samesite", "path"):
        assert deleted_with.get(key) == set_with.get(key), key
    assert "max-age" in deleted_with or "expires" in deleted_with
    assert service.column("session_id") is None
    assert service.profile(session_id).status_code == 403
    timed = make_service(SESSION_LIFETIME=100)
    session_id = timed.session_of(timed.login())
    clock.advance(100)
    assert timed.profile(session_id).status_code == 403
    assert timed.column("session_id") is None


def test_10_idle_timeout(service: Service, make_service: Callable,
                         clock: FakeClock) -> None:
    """Production: idle 1800 s by default; each use extends it. Seed: no
    idle limit (the seed's sessions never expire);
    SESSION_IDLE_TIMEOUT=1800 fixes it."""
    session_id = service.signed_in()
    if service.config["APP_PROFILE"] == "seed":
        clock.advance(10 * 86400)
        assert service.profile(session_id).status_code == 200
        service = make_service(SESSION_IDLE_TIMEOUT=1800)
        session_id = service.session_of(service.login())
    assert service.config["SESSION_IDLE_TIMEOUT"] == 1800
    for _ in range(3):
        clock.advance(1799)
        assert service.profile(session_id).status_code == 200
    clock.advance(1800)
    assert service.profile(session_id).status_code == 403


def test_11_absolute_timeout(service: Service, make_service: Callable,
                             clock: FakeClock) -> None:
    """Production: 12 h after login a session ends, however active.
    Seed: no limit; SESSION_LIFETIME=43200 fixes it."""
    session_id = service.signed_in()
    if service.config["APP_PROFILE"] == "seed":
        clock.advance(100 * 86400)
        assert service.profile(session_id).status_code == 200
        service = make_service(SESSION_LIFETIME=43200,
                               SESSION_IDLE_TIMEOUT=1800)
        session_id = service.session_of(service.login())
    assert service.config["SESSION_LIFETIME"] == 43200
    for _ in range(43):
        clock.advance(1000)
        assert service.profile(session_id).status_code == 200
    clock.advance(200)
    assert service.profile(session_id).status_code == 403


def test_12_timeouts_from_server_side_timestamps(
        service: Service, make_service: Callable, clock: FakeClock) -> None:
    """The cookie has no Expires/Max-Age and the id no time in it; only
    the server's clock and stored start/last-use times decide. Seed:
    the same once a timeout is set (SESSION_IDLE_TIMEOUT)."""
    if service.config["APP_PROFILE"] == "seed":
        service = make_service(SESSION_IDLE_TIMEOUT=1800)
    service.register()
    answer = service.login()
    session_id = service.session_of(answer)
    attributes = set_cookie(answer)[2]
    assert "expires" not in attributes and "max-age" not in attributes
    clock.advance(1800)
    # The same cookie, unchanged by the client, is now refused.
    assert service.profile(session_id).status_code == 403


def test_13_reset_ends_other_sessions(service: Service) -> None:
    """A password reset ends the user's session. (The service has no
    password change route: the reset is its only password change.)"""
    session_id = service.signed_in()
    answer = service.put_password(service.reset_token(), "new password 1")
    assert answer.status_code == 200
    assert service.profile(session_id).status_code == 403


def test_14_sessions_listed_ended_and_gone_with_user(
        service: Service, make_service: Callable, clock: FakeClock) -> None:
    """Not applicable as such: the seed's service keeps one session per
    user (``users.session_id``) and has no session list or user
    deletion route. What stands in: a login ends the previous session
    (so a user has at most one, which the login shows), logout ends it,
    and expired sessions are purged from the database without a visit.
    """
    first = service.signed_in()
    second = service.session_of(service.login())
    assert service.profile(first).status_code == 403
    service.logout(second)
    assert service.column("session_id") is None
    timed = make_service(SESSION_LIFETIME=60)
    timed.session_of(timed.login())
    assert timed.column("session_id") is not None
    clock.advance(120)
    timed.signed_in("other@me.com")
    assert timed.column("session_id") is None


def test_15_generic_auth_errors(service: Service) -> None:
    """A wrong password and an unknown e-mail get the same status and
    body, without a cookie."""
    service.register()
    wrong = service.login(password="wrong password")
    unknown = service.login(email="ghost@me.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert "Set-Cookie" not in wrong.headers
    assert "Set-Cookie" not in unknown.headers


def _failed_login_medians(service: Service, emails: tuple,
                          tries: int) -> list:
    """Return the median times of failed logins, one per e-mail.

    The e-mails take turns, so a load change on the machine weighs on
    each alike; one untimed round first warms every path up.
    """
    times: list = [[] for _ in emails]
    for attempt in range(tries + 1):
        for index, email in enumerate(emails):
            start = time.perf_counter()
            answer = service.login(email=email, password="wrong password")
            assert answer.status_code == 401
            if attempt:
                times[index].append(time.perf_counter() - start)
    return [statistics.median(each) for each in times]


def test_16_no_timing_oracle_after_cost_change(
        profile: str, sqlite_url: str, clock: FakeClock) -> None:
    """A wrong password for a known e-mail and any password for an
    unknown one cost the same, also after a cost change (12 -> 10 in
    production, 10 -> 8 in seed): an unknown e-mail is checked against
    the stored hash of a real user it points at (so right after the
    change, before anyone logged in again, both cost the old cost), and
    a login redoes a hash at the current cost. Medians of interleaved
    tries must be within a factor of 2 of each other; the gaps this
    closes are a factor of 4."""
    old, new = (12, 10) if profile == "production" else (10, 8)
    before = Service(profile, sqlite_url, clock, BCRYPT_ROUNDS=old,
                     LOGIN_BACKOFF_AFTER=1000)
    before.register()
    after = Service(profile, sqlite_url, clock, BCRYPT_ROUNDS=new,
                    LOGIN_BACKOFF_AFTER=1000, RATELIMIT_LOGIN="1000/minute")
    emails = ("bob@me.com", "ghost@me.com")
    known, unknown = _failed_login_medians(after, emails, 5)
    print("old-cost hash: known {:.1f} ms, unknown {:.1f} ms".format(
        known * 1000, unknown * 1000))
    assert 0.5 < known / unknown < 2.0
    assert after.login().status_code == 200
    assert "$2b${:02d}$".format(new) in after.column("hashed_password")
    known, unknown = _failed_login_medians(after, emails, 9)
    print("rehashed: known {:.1f} ms, unknown {:.1f} ms".format(
        known * 1000, unknown * 1000))
    assert 0.5 < known / unknown < 2.0


def test_17_throttling_per_account_and_address_without_lockout(
        service: Service, make_service: Callable) -> None:
    """Per address: RATELIMIT_LOGIN (429 JSON). Per account: from the
    LOGIN_BACKOFF_AFTER-th failure the account waits 1, 2, 4 ... s (at
    most LOGIN_BACKOFF_MAX), answered 429 with Retry-After and no
    password check; after the wait the right password works (a back-
    off, not a lockout). Redis-backed sharing and fail-closed: see
    tests/user_authentication_service/test_throttle_redis.py."""
    limited = make_service(RATELIMIT_LOGIN="3/minute")
    limited.register()
    answers = [limited.login(password="wrong") for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[-1].is_json
    backoff = make_service(LOGIN_BACKOFF_AFTER=3, LOGIN_BACKOFF_MAX=1,
                           RATELIMIT_STORAGE_URI="memory://")
    for _ in range(3):
        assert backoff.login(password="wrong").status_code == 401
    waiting = backoff.login()
    assert waiting.status_code == 429
    assert int(waiting.headers["Retry-After"]) >= 1
    ghost = [backoff.login(email="ghost@me.com", password="wrong")
             for _ in range(4)]
    assert [a.status_code for a in ghost] == [401, 401, 401, 429]
    deadline = time.monotonic() + 10
    while (answer := backoff.login()).status_code == 429:
        assert time.monotonic() < deadline, "still locked out"
        time.sleep(0.1)
    assert answer.status_code == 200


def test_18_slow_hash_cost_at_least_10(service: Service,
                                       make_service: Callable) -> None:
    """Passwords are bcrypt at the configured cost (default 12).
    Production refuses a cost below 10. Seed: accepts 4 and up (the
    test suite's cheap cost); APP_PROFILE=production enforces >= 10."""
    from settings import ConfigError, load

    assert load({"APP_PROFILE": service.config["APP_PROFILE"]}
                )["BCRYPT_ROUNDS"] == 12
    service.register()
    cost = service.config["BCRYPT_ROUNDS"]
    assert "$2b${:02d}$".format(cost) in service.column("hashed_password")
    if service.config["APP_PROFILE"] == "seed":
        assert make_service(BCRYPT_ROUNDS=9).config["BCRYPT_ROUNDS"] == 9
    with pytest.raises(ConfigError, match="at least 10"):
        make_service(APP_PROFILE="production", BCRYPT_ROUNDS=9)


def test_19_rehash_on_cost_change(service: Service, make_service: Callable
                                  ) -> None:
    """A login with the right password redoes a hash of another cost,
    and upgrades an old plain-bcrypt hash to the pre-hashed format."""
    import bcrypt

    cost = service.config["BCRYPT_ROUNDS"]
    service.register()
    cheaper = make_service(BCRYPT_ROUNDS=cost + 1)
    assert cheaper.login().status_code == 200
    assert "$2b${:02d}$".format(cost + 1) in service.column(
        "hashed_password")
    plain = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(cost)).decode()
    service.auth._db.update_user(1, hashed_password=plain)
    assert service.login().status_code == 200
    stored = service.column("hashed_password")
    assert stored.startswith("$bcrypt-sha256$v1$$2b${:02d}$".format(cost))


def test_20_long_passwords_any_script_no_truncation_min_length(
        service: Service, make_service: Callable) -> None:
    """64+ characters of any script are taken whole (no cut at bcrypt's
    72 bytes). Production: at least 8 characters. Seed: the seed's own
    password "b4l0u" (5) must work; MIN_PASSWORD_LENGTH=8 fixes it."""
    for n, letter in enumerate(("é", "密", "😀", "a")):
        email = "long{}@me.com".format(n)
        password = letter * 64
        assert service.register(email, password).status_code == 200
        assert service.login(email, password).status_code == 200
        near = letter * 63 + "b"
        assert service.login(email, near).status_code == 401
    if service.config["APP_PROFILE"] == "seed":
        assert service.register("short@me.com", "b4l0u").status_code == 200
        service = make_service(MIN_PASSWORD_LENGTH=8)
    answer = service.register("shorter@me.com", "1234567")
    assert answer.status_code == 400
    assert "at least 8" in answer.get_json()["message"]
    assert service.register("shorter@me.com", "12345678").status_code == 200


def test_21_password_change_needs_current_password(service: Service
                                                   ) -> None:
    """Not applicable as such: the service has no password change route.
    What stands in: the only way to set a password is PUT
    /reset_password with a single-use token sent out of band; a session
    alone cannot change it."""
    session_id = service.signed_in()
    answer = service.client.put(
        "/reset_password", headers=service.headers(session_id),
        data={"email": "bob@me.com", "new_password": "taken over"})
    assert answer.status_code == 400
    assert service.login(password="taken over").status_code == 401
    assert service.login().status_code == 200


def test_22_reset_tokens_random_single_use_hashed_short_lived(
        service: Service, make_service: Callable, clock: FakeClock) -> None:
    """Reset tokens come from the CSPRNG (production: 256 bits; seed:
    the seed's "UUID", a UUIDv7 with 74 random bits, or 256 bits with
    TOKEN_FORMAT=token), are stored as SHA-256 digests, work once and
    expire after RESET_TOKEN_TTL (900 s)."""
    service.register()
    token = service.reset_token()
    assert service.column("reset_token") == hashlib.sha256(
        token.encode()).hexdigest()
    if service.config["APP_PROFILE"] == "production":
        assert len(base64.urlsafe_b64decode(
            token.split(".")[1] + "=")) * 8 == 256
    assert service.put_password(token, "new password 1").status_code == 200
    assert service.put_password(token, "new password 2").status_code == 403
    late = service.reset_token()
    clock.advance(900)
    assert service.put_password(late, "new password 3").status_code == 403
    assert service.login(password="new password 1").status_code == 200


def test_23_forgot_password_same_answer_token_out_of_band(
        service: Service, make_service: Callable, start_server: Callable,
        start_mailer: Callable, mail_server: Any, redis_url: str) -> None:
    """Production: known and unknown e-mails get the same 200 body, with
    no token; the token arrives by e-mail (live: server, mail worker,
    Redis, SMTP). Seed: the seed answers 403 for an unknown e-mail and
    the token in the body; RESET_TOKEN_DELIVERY=email fixes it. At most
    RATELIMIT_RESET_MAILS e-mails per address go out."""
    from mailer import token_in

    service.register()
    if service.config["APP_PROFILE"] == "seed":
        assert service.client.post("/reset_password", data={
            "email": "ghost@me.com"}).status_code == 403
        assert "reset_token" in service.client.post(
            "/reset_password", data={"email": "bob@me.com"}).get_json()
        service = make_service(RESET_TOKEN_DELIVERY="email")
    known = service.client.post("/reset_password",
                                data={"email": "bob@me.com"})
    unknown = service.client.post("/reset_password",
                                  data={"email": "ghost@me.com"})
    assert known.status_code == unknown.status_code == 200
    assert set(known.get_json()) == set(unknown.get_json()) == {
        "email", "message"}
    assert known.get_json()["message"] == unknown.get_json()["message"]
    # One mailbox cannot be flooded: past RATELIMIT_RESET_MAILS (3 per
    # 15 minutes) the answer stays the same and no e-mail is queued.
    for _ in range(3):
        again = service.client.post("/reset_password",
                                    data={"email": "bob@me.com"})
        assert again.get_json() == known.get_json()
    assert [row[1] for row in service.auth.pending_mail()].count(
        "bob@me.com") == 3
    if service.config["APP_PROFILE"] != "production":
        return
    # Live, on the same database: the rows above go out first (three
    # messages to bob, none to ghost), then live@me.com's.
    env = {"APP_PROFILE": "production", "BCRYPT_ROUNDS": "10",
           "REDIS_URL": redis_url, "SMTP_URL": mail_server.url,
           "DATABASE_URL": service.database_url}
    url = start_server("dev", **env).url
    requests.post(url + "/users", timeout=30,
                  data={"email": "live@me.com", "password": PASSWORD})
    requests.post(url + "/reset_password", timeout=30,
                  data={"email": "live@me.com"})
    start_mailer(**env)
    delivered = mail_server.wait_for(4)
    assert [to for to, _ in delivered] == [["bob@me.com"]] * 3 + [
        ["live@me.com"]]
    token = token_in(mail_server.text(delivered[3][1]))
    assert requests.put(url + "/reset_password", timeout=30, data={
        "email": "live@me.com", "reset_token": token,
        "new_password": "new password"}).status_code == 200


def test_24_reset_does_not_log_in(service: Service) -> None:
    """A successful reset sets no cookie and starts no session."""
    service.register()
    answer = service.put_password(service.reset_token(), "new password 1")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert service.column("session_id") is None


def test_25_cross_origin_cookie_writes_refused(
        service: Service, make_service: Callable) -> None:
    """Unsafe requests from another origin (Origin, else Sec-Fetch-Site)
    are refused with 403 JSON and change nothing; the own origin and
    ALLOWED_ORIGINS pass; no CORS header is ever sent (the service has
    no CORS)."""
    session_id = service.signed_in()
    for headers in ({"Origin": EVIL}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}):
        refused = service.logout(session_id, **headers)
        assert refused.status_code == 403 and refused.is_json
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert service.profile(session_id).status_code == 200
        assert service.login(session_id=session_id,
                             **headers).status_code == 403
    assert service.logout(session_id, Origin="http://localhost",
                          Sec_Fetch_Site="same-origin").status_code == 302
    allowed = make_service(ALLOWED_ORIGINS=EVIL)
    session_id = allowed.session_of(allowed.login(Origin=EVIL))
    assert allowed.logout(session_id, Origin=EVIL).status_code == 302


#!/usr/bin/env python3
"""The queue dashboard in a real browser (Debian's Chromium, Playwright).

The page is served by ``python3 kue_api.py`` (granian) on the suite's
Redis; jobs are made by a queue in the test process and run by a real
``python3 -m worker`` process or by the test's queue.
"""
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from kue import Queue, create_queue
from tests.support import PYTHON, ROOT, ServerProcess, base_env

WAIT_MS = 20000


@pytest.fixture
def url(kue_api_server: ServerProcess, redis_url: str) -> str:
    """Return the dashboard's URL, with Redis flushed."""
    return kue_api_server.url + "/"


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


def expect() -> Any:
    """Return Playwright's ``expect`` (skipping where it is missing)."""
    return pytest.importorskip("playwright.sync_api").expect


def fail_job(job: Any) -> None:
    """Fail with a message, after logging a line."""
    job.log("trying %s", job.id)
    raise RuntimeError("card declined")


def halfway_job(job: Any) -> str:
    """Report 50% progress, then complete (worker-process handler)."""
    job.progress(1, 2)
    return "sent"


def test_page_loads_without_errors(page: Any, url: str,
                                   queue: Queue) -> None:
    """The page shows the counts and the job list, with no JS error."""
    queue.create_bulk("email", [{"to": "a"}, {"to": "b"}])
    page.goto(url)
    expect()(page.locator("#count-inactive")).to_have_text(
        "2", timeout=WAIT_MS)
    expect()(page.locator("#jobs tbody tr")).to_have_count(2)
    expect()(page.locator("#types tbody tr[data-type=email]")).to_be_visible()
    assert page.errors == []


def test_counts_change_while_a_worker_runs(page: Any, url: str,
                                           queue: Queue,
                                           redis_url: str) -> None:
    """Queued jobs move to complete on the page as a worker runs them."""
    jobs = queue.create_bulk("mail", [{"n": n} for n in range(5)])
    page.goto(url)
    expect()(page.locator("#count-inactive")).to_have_text(
        "5", timeout=WAIT_MS)
    expect()(page.locator("#count-complete")).to_have_text("0")
    worker = subprocess.Popen(
        [PYTHON, "-m", "worker", "--queue",
         "mail=tests.queuing_system.test_kue_dashboard:halfway_job"],
        cwd=str(ROOT / "queuing_system"),
        env=base_env(REDIS_URL=redis_url, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        expect()(page.locator("#count-complete")).to_have_text(
            "5", timeout=WAIT_MS)
        expect()(page.locator("#count-inactive")).to_have_text("0")
        assert all(job.wait(20) for job in jobs)
    finally:
        worker.terminate()
        worker.wait(30)
    row = page.locator('#jobs tr[data-ref="mail:{}"]'.format(jobs[0].id))
    expect()(row.locator("[role=progressbar]")).to_have_attribute(
        "aria-valuenow", "50")
    assert page.errors == []


def test_failed_job_shows_its_error_and_log(page: Any, url: str,
                                            queue: Queue) -> None:
    """A failed job's row opens its error, attempts and log."""
    job = queue.create("pay", {"amount": 12}).attempts(2).save()
    queue.process("pay", 1, fail_job)
    assert job.wait(20) and job.state == "failed"
    page.goto(url)
    page.locator('#jobs tr[data-ref="pay:{}"]'.format(job.id)).click()
    expect()(page.locator("#detail-error")).to_have_text(
        "card declined", timeout=WAIT_MS)
    expect()(page.locator('#detail-facts dd[data-fact="attempts"]')
             ).to_have_text("2 made, 0 left, 2 max")
    expect()(page.locator("#detail-log li")).to_have_text(
        ["trying 1", "trying 1"])
    expect()(page.locator("#detail-data")).to_contain_text('"amount": 12')
    assert page.errors == []


def test_retry_then_remove(page: Any, url: str, queue: Queue) -> None:
    """Retry puts a failed job back in the queue; remove deletes it."""
    job = queue.create("pay").save()
    queue.process("pay", 1, fail_job)
    assert job.wait(20)
    queue.shutdown()
    page.goto(url)
    row = page.locator('#jobs tr[data-ref="pay:{}"]'.format(job.id))
    expect()(row).to_have_attribute("data-state", "failed",
                                    timeout=WAIT_MS)
    row.locator("button.retry").click()
    expect()(row).to_have_attribute("data-state", "inactive",
                                    timeout=WAIT_MS)
    expect()(page.locator("#count-inactive")).to_have_text("1")
    assert queue.get_job(job.id, "pay").state == "inactive"
    row.locator("button.remove").click()
    expect()(row).to_have_count(0, timeout=WAIT_MS)
    expect()(page.locator("#count-inactive")).to_have_text("0")
    assert queue.get_job(job.id, "pay") is None
    assert page.errors == []


def test_priority_change(page: Any, url: str, queue: Queue) -> None:
    """The priority menu changes a waiting job's priority."""
    job = queue.create("report").priority("low").save()
    page.goto(url)
    menu = page.locator('#jobs tr[data-ref="report:{}"] select.priority'
                        .format(job.id))
    expect()(menu).to_have_value("low", timeout=WAIT_MS)
    menu.select_option("critical")
    expect()(page.locator("#status")).to_contain_text(
        "priority/critical", timeout=WAIT_MS)
    assert queue.get_job(job.id, "report").json["priority"] == -15
    expect()(menu).to_have_value("critical")
    assert page.errors == []


def test_pages_of_fifty(page: Any, url: str, queue: Queue) -> None:
    """Sixty jobs: fifty on the first page, ten on the next."""
    queue.create_bulk("bulk", [{"n": n} for n in range(60)])
    page.goto(url)
    expect()(page.locator("#page-label")).to_have_text(
        "1–50 of 60", timeout=WAIT_MS)
    expect()(page.locator("#jobs tbody tr")).to_have_count(50)
    expect()(page.locator("#page-prev")).to_be_disabled()
    page.locator("#page-next").click()
    expect()(page.locator("#page-label")).to_have_text("51–60 of 60")
    expect()(page.locator("#jobs tbody tr")).to_have_count(10)
    expect()(page.locator('#jobs tr[data-ref="bulk:1"]')).to_be_visible()
    expect()(page.locator("#page-next")).to_be_disabled()
    page.locator("#filter-state").select_option("failed")
    expect()(page.locator("#page-label")).to_have_text("0 of 0")
    expect()(page.locator("#empty")).to_be_visible()
    assert page.errors == []


def test_password_protected_dashboard(browser: Any, redis_url: str,
                                      queue: Queue) -> None:
    """With KUE_UI_PASSWORD the page asks for it, then works with it."""
    queue.create("email").save()
    server = ServerProcess([PYTHON, "kue_api.py"], ROOT / "queuing_system",
                           env={})
    server.env = base_env(REDIS_URL=redis_url, KUE_UI_PASSWORD="s3cret",
                          KUE_UI_PORT=str(server.port))
    server.start()
    contexts = []
    try:
        for password in ("wrong", "s3cret"):
            context = browser.new_context(http_credentials={
                "username": "ops", "password": password})
            contexts.append(context)
            page = context.new_page()
            response = page.goto(server.url + "/")
            if password == "wrong":
                assert response.status == 401
                continue
            assert response.status == 200
            expect()(page.locator("#count-inactive")).to_have_text(
                "1", timeout=WAIT_MS)
    finally:
        for context in contexts:
            context.close()
        server.stop()


def test_screenshot_path_is_documented() -> None:
    """The committed screenshot exists and docs point at it."""
    assert (ROOT / "docs" / "queue-dashboard.png").stat().st_size > 10000
    text = (ROOT / "docs" / "queuing-system.md").read_text()
    assert "queue-dashboard.png" in text


def test_dashboard_files_need_no_network() -> None:
    """No CDN: the page loads only its own files."""
    folder = Path(ROOT / "queuing_system" / "kue_ui")
    for path in folder.iterdir():
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path

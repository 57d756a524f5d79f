"""Pages bounded like the API (issue 13 #1): what is summed into one row reads as such."""

from __future__ import annotations

from tests.dashboard.test_pages import call, plain_static_storage, store, user_client

__all__ = ["plain_static_storage", "user_client"]  # fixtures used by name


def test_the_summed_row_of_unknown_codes_reads_other_on_the_pages(user_client, db):
    store(*[call(n, code=9000 + n, minutes_ago=30) for n in range(60)])  # 60 codes: over the cap

    for url in ("/codes/", "/"):
        page = user_client.get(url).content.decode()
        assert ">other<" in page, url
        assert ">None<" not in page, url

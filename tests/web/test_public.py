"""Public pages: the scheme, its tiers and every rule, from the rulebook in force."""

from __future__ import annotations


def test_index_shows_the_scheme_and_its_tiers(client, rulebook):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Test scheme" in html
    assert "1000 points" in html
    for tier in ("AAA", "AA", "A", "B", "C", "D"):
        assert f'class="tier tier-{tier}">{tier}<' in html
    assert "Exemplary" in html
    assert "1050 points and above" in html
    assert "below 600 points" in html
    assert 'href="/scheme"' in html


def test_scheme_lists_every_rule_with_its_terms(client, rulebook):
    html = client.get("/scheme").get_data(as_text=True)
    assert rulebook.fingerprint[:12] in html
    assert rulebook.fingerprint not in html  # the short form only
    for code in rulebook.rule_codes:
        assert f"<code>{code}</code>" in html
    assert "Tampering with the heating system" in html
    assert "Road Traffic Safety Law, art. 91" in html
    assert "Personal credit assessment standard, annex 1" in html
    assert "Heating Company" in html and "Traffic Police" in html  # department titles
    assert "at most 3 points per year" in html  # VOL-HOURS cap
    assert "×2 if repeated within 1 year" in html  # TRAFFIC-TICKET repeat
    assert "repairable after 3 months" in html  # HEAT-TAMPER
    assert "from 2016-01-01" in html  # HEAT-TAMPER effective
    assert "persons only" in html  # DRUNK-DRIVING subjects
    assert 'class="points minus">-200<' in html


def test_scheme_lists_measures_lists_and_deadlines(client):
    html = client.get("/scheme").get_data(as_text=True)
    assert "May not bid for government tenders" in html
    assert "Tendering and Bidding Law, arts. 53, 54, 60" in html
    assert "takes effect 7 days after notice" in html
    assert "tier D; or on list court-defaulters" in html
    assert "Finance Bureau" in html  # the owner, by title
    assert "Dishonest judgment debtors" in html
    assert "flag priority-scrutiny: 3 entries within 1 year" in html
    assert "within 30 days of the notice" in html
    assert "decides within 15 days" in html


def test_public_pages_need_no_login_and_link_the_vendored_css(client):
    html = client.get("/scheme").get_data(as_text=True)
    assert "/static/css/simple.min.css" in html and "/static/css/app.css" in html
    assert "https://" not in html.split("<body>")[0]  # no CDN
    css = client.get("/static/css/simple.min.css")
    assert css.status_code == 200
    assert b"MIT License" in css.data[:400]


def test_unknown_page_renders_the_error_page(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "There is no such page." in page.get_data(as_text=True)

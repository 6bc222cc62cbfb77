"""The Plausible replay's converter and fixture mapping (scripts/plausible_replay), on a
small ExUnit file written here in the shape of Plausible's tests (none of theirs is kept
in this repository): comprehensions unrolled, fixtures, goals, bodies and expectations
read, a fixture's browser turned into a user agent Footfall parses back to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.imports.plausible.places import have_cities
from footfall.ingest.useragent import parse_user_agent
from scripts.plausible_replay import fixtures
from scripts.plausible_replay.convert import convert_dir

EXS = """defmodule Sample do
  @user_id Enum.random(1000..9999)

  for {dimension, column} <- [{"visit:browser", :browser}, {"visit:os", :operating_system}] do
    test "breakdown by #{dimension}", %{conn: conn, site: site} do
      populate_stats(site, [
        build(:pageview, [{unquote(column), "X"}, {:timestamp, ~N[2021-01-01 00:00:00]}]),
        build(:pageview, user_id: @user_id, "meta.key": ["k"], "meta.value": ["v"])
      ])

      insert(:goal, %{site: site, page_path: "/blog**"})

      conn =
        post(conn, "/api/v2/query", %{
          "site_id" => site.domain,
          "dimensions" => [unquote(dimension)],
          "date_range" => "all"
        })

      %{"results" => results} = json_response(conn, 200)
      assert results == [%{"dimensions" => ["X"], "metrics" => [1]}]
    end
  end

  test "a refusal", %{conn: conn, site: site} do
    insert(:subscription, user: user)
    conn = post(conn, "/api/v2/query", %{"site_id" => site.domain})
    assert json_response(conn, 400)["error"] =~ "nope"
  end

  test "paged", %{conn: conn, site: site} do
    query = %{"site_id" => site.domain, "metrics" => ["pageviews"]}
    conn2 = post(conn, "/api/v2/query", Map.put(query, "pagination", %{"limit" => 3}))
    assert json_response(conn2, 200)["meta"]["total_rows"] == 8
  end
end
"""


def test_the_converter_unrolls_reads_and_counts_what_it_cannot(tmp_path: Path) -> None:
    (tmp_path / "sample_test.exs").write_text(EXS)
    cases, failed = convert_dir(tmp_path)
    assert [c["test"] for c in cases] == [
        "breakdown by visit:browser",
        "breakdown by visit:os",
        "paged",
    ]
    first = cases[0]
    assert first["body"] == {
        "site_id": "$SITE",
        "dimensions": ["visit:browser"],
        "date_range": "all",
    }
    assert first["status"] == 200
    assert first["expect"] == {"results": [{"dimensions": ["X"], "metrics": [1]}]}
    assert first["events"] == [
        {"kind": "pageview", "browser": "X", "timestamp": "2021-01-01T00:00:00"},
        {"kind": "pageview", "user_id": 4242, "meta.key": ["k"], "meta.value": ["v"]},
    ]
    assert first["goals"] == [{"site": "$SITE", "page_path": "/blog**"}]
    assert cases[1]["events"][0]["operating_system"] == "X"
    assert cases[2]["body"]["pagination"] == {"limit": 3}
    assert cases[2]["expect"] == {"meta/total_rows": 8}
    assert failed == [{"file": "sample_test.exs", "test": "a refusal", "reason": "plan or segment"}]


TZ_AND_IMPORTS = """defmodule Sample2 do
  describe "imports" do
    setup %{site: site} do
      site_import = insert(:site_import, site: site)

      populate_stats(site, site_import.id, [
        build(:pageview, timestamp: ~N[2024-01-01 12:00:00]),
        build(:imported_exit_pages, exit_page: "/b", exits: 3, date: ~D[2021-01-01])
      ])
    end

    test "today in the site's zone", %{conn: conn, site: site} do
      site = Plausible.Repo.update!(Ecto.Changeset.change(site, timezone: "America/New_York"))
      Plausible.Stats.Query.Test.fix_now(~U[2024-01-02 02:00:00Z])
      conn = post(conn, "/api/v2/query", %{"site_id" => site.domain, "date_range" => "day"})
      response = json_response(conn, 200)
      assert [%{"metrics" => [count], "dimensions" => []}] = response["results"]
      assert count == 1
    end
  end
end
"""


def test_the_converter_reads_zones_fixed_now_pinned_patterns_and_imports(tmp_path: Path) -> None:
    (tmp_path / "sample2_test.exs").write_text(TZ_AND_IMPORTS)
    cases, failed = convert_dir(tmp_path)
    assert failed == [] and len(cases) == 1
    (case,) = cases
    assert case["timezone"] == "America/New_York"
    # Plausible's fixed "now" (21:00 on Jan 1st in New York) is the body's reference date
    assert case["body"]["date"] == "2024-01-01"
    assert case["expect"] == {"results": [{"metrics": [1], "dimensions": []}]}
    assert [e["kind"] for e in case["events"]] == ["pageview"]
    (row,) = fixtures.imported_rows(case["imported"], "2024-01-05")
    # Plausible's factory defaults fill what the fixture omits
    assert row == {"kind": "exit_pages", "visitors": 1, "exits": 3, "exit_page": "/b",
                   "date": "2021-01-01"}  # fmt: skip


def test_a_fixtures_browser_and_os_come_back_from_the_user_agent_it_gets() -> None:
    asked = {"browser": "Firefox", "browser_version": "", "os": "Windows", "os_version": "",
             "device": ""}  # fmt: skip
    got = parse_user_agent(fixtures.user_agent(asked))
    assert (got.browser, got.os) == ("Firefox", "Windows")
    # a version no parser gives back (Plausible's fixtures write "56") is refused, not faked
    with pytest.raises(fixtures.Unrepresentable):
        fixtures.user_agent({**asked, "browser_version": "56"})


GOALS_CREATE = """defmodule Sample3 do
  test "a goal narrowed by a property", %{conn: conn, site: site} do
    {:ok, _goal} =
      Goals.create(site, %{
        "event_name" => "Purchase",
        "display_name" => "Purchase A",
        "custom_props" => %{"variant" => "A"}
      })

    populate_stats(site, [
      build(:imported_locations, country: "EE", region: "EE-37", city: 588_409, visitors: 3)
    ])

    conn = post(conn, "/api/v2/query", %{"site_id" => site.domain, "metrics" => ["visitors"]})
    assert json_response(conn, 200)["results"] == [%{"dimensions" => [], "metrics" => [1]}]
  end
end
"""


def test_goals_create_and_imported_places_are_read_as_the_import_keeps_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "sample3_test.exs").write_text(GOALS_CREATE)
    (case,), failed = convert_dir(tmp_path)
    assert failed == []
    (goal,) = case["goals"]
    assert fixtures.goal(goal) == {"name": "Purchase A", "kind": "event", "target": "Purchase",
                                   "prop_key": "variant", "prop_value": "A"}  # fmt: skip
    (row,) = fixtures.imported_rows(case["imported"], "2024-01-05")
    # the export's ISO 3166-2 code and GeoNames id, kept as Footfall's CSV import keeps them
    assert row["region"] == "Harjumaa"
    assert row["city"] == ("Tallinn" if have_cities() else "")  # the geonames extra

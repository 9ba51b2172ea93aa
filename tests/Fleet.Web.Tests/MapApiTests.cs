using System.Net;
using System.Text.Json;
using Fleet.Core.Roads;
using Fleet.Web.Map;
using Microsoft.Extensions.Configuration;

namespace Fleet.Web.Tests;

/// <summary>The map page's server side: the page itself, /api/map/config, /layers, /roads and the registry lists.</summary>
public sealed class MapApiTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task The_root_serves_the_map_page_in_Chinese_with_its_bundle()
    {
        using var page = await fleet.Host.Client.GetAsync("/", Ct);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.Contains("<html lang=\"zh-CN\">", html, StringComparison.Ordinal);
        Assert.Contains("id=\"login-form\"", html, StringComparison.Ordinal);
        Assert.Contains("/dist/app.js", html, StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        using var script = await fleet.Host.Client.GetAsync("/dist/app.js", Ct);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.True((await script.Content.ReadAsByteArrayAsync(Ct)).Length > 50_000, "the bundle holds Leaflet and the SignalR client");
        using var style = await fleet.Host.Client.GetAsync("/dist/app.css", Ct);
        Assert.Equal(HttpStatusCode.OK, style.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_map_APIs_need_a_session()
    {
        (await fleet.Host.Client.GetApiAsync("/api/map/config", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        (await fleet.Host.Client.GetApiAsync("/api/map/layers", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        (await fleet.Host.Client.GetApiAsync("/api/map/roads", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        (await fleet.Host.Client.GetApiAsync("/api/registry/departments", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task Layers_give_a_department_manager_all_regions_and_zones_but_only_their_own_lot()
    {
        var manager = await fleet.SessionAsync("manager1", Ct);
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        var mine = await manager.GetApiAsync("/api/map/layers", Ct);
        var all = await supervisor.GetApiAsync("/api/map/layers", Ct);

        Assert.Equal(HttpStatusCode.OK, mine.Status);
        Assert.Equal("application/geo+json", mine.MediaType);
        Assert.Equal("FeatureCollection", mine.Body.GetProperty("type").GetString());
        var regions = await CountAsync("SELECT count(*) FROM regions WHERE centre IS NOT NULL");
        var zones = await CountAsync("SELECT count(*) FROM office_zones WHERE boundary IS NOT NULL");
        var lots = await CountAsync("SELECT count(*) FROM departments WHERE parking_lot IS NOT NULL");
        Assert.True(lots > 1, "the demo province gives every department a lot");

        Assert.Equal(regions, Layer(mine.Body, "region").Count);
        Assert.Equal(zones, Layer(mine.Body, "zone").Count);
        var lot = Assert.Single(Layer(mine.Body, "lot"));
        Assert.Equal(department, lot.GetProperty("properties").GetProperty("departmentId").GetInt32());
        Assert.Equal("MultiPolygon", lot.GetProperty("geometry").GetProperty("type").GetString());

        Assert.Equal(regions, Layer(all.Body, "region").Count);
        Assert.Equal(lots, Layer(all.Body, "lot").Count);
        var seat = Layer(all.Body, "region")[0].GetProperty("geometry");
        Assert.Equal("Point", seat.GetProperty("type").GetString());
        // GeoJSON order: [lon, lat]; the province sits east of 97°E and north of 37°N.
        Assert.InRange(seat.GetProperty("coordinates")[0].GetDouble(), 97, 127);
        Assert.InRange(seat.GetProperty("coordinates")[1].GetDouble(), 37, 54);
    }

    [Fact(Timeout = 60_000)]
    public async Task Roads_are_line_strings_around_every_league_city_the_same_on_every_call_and_need_a_session()
    {
        (await fleet.Host.Client.GetApiAsync("/api/map/roads", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        var manager = await fleet.SessionAsync("manager1", Ct);
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        using var first = await manager.GetAsync("/api/map/roads", Ct);
        using var second = await supervisor.GetAsync("/api/map/roads", Ct);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("application/geo+json", first.Content.Headers.ContentType?.MediaType);
        var bytes = await first.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(bytes, await second.Content.ReadAsByteArrayAsync(Ct));
        TestContext.Current.TestOutputHelper?.WriteLine($"/api/map/roads: {bytes.Length:N0} bytes");
        Assert.InRange(bytes.Length, 100_000, RoadLayer.MergeAboveBytes);

        // The cached document is what the generator gives afresh for the registry's 盟市 and the default seed.
        var centres = new Dictionary<string, GeoPoint>(StringComparer.Ordinal);
        await using (var command = fleet.Db.CreateCommand("SELECT code, ST_Y(centre), ST_X(centre) FROM regions WHERE level = 'league_city' ORDER BY code"))
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                centres.Add(reader.GetString(0), new GeoPoint(reader.GetDouble(1), reader.GetDouble(2)));
            }
        }

        Assert.Equal(12, centres.Count);
        Assert.Equal(bytes, RoadLayer.Build(centres.Select(c => (c.Key, c.Value)).ToList(), RoadNetworkGenerator.DefaultSeed));

        using var document = JsonDocument.Parse(bytes);
        Assert.Equal("FeatureCollection", document.RootElement.GetProperty("type").GetString());
        var features = document.RootElement.GetProperty("features").EnumerateArray().ToList();
        var kinds = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var feature in features)
        {
            var geometry = feature.GetProperty("geometry");
            var properties = feature.GetProperty("properties");
            var code = properties.GetProperty("regionCode").GetString()!;
            Assert.Equal("LineString", geometry.GetProperty("type").GetString());
            Assert.True(centres.TryGetValue(code, out var centre), $"unknown region {code}");
            var coordinates = geometry.GetProperty("coordinates").EnumerateArray().ToList();
            Assert.True(coordinates.Count >= 2);
            foreach (var point in coordinates)
            {
                // [lon, lat], within the network's 12 km of the seat.
                Assert.InRange(point[0].GetDouble(), centre.Lon - 0.2, centre.Lon + 0.2);
                Assert.InRange(point[1].GetDouble(), centre.Lat - 0.12, centre.Lat + 0.12);
            }

            if (!kinds.TryGetValue(code, out var set))
            {
                kinds[code] = set = [];
            }

            set.Add(properties.GetProperty("kind").GetString()!);
        }

        Assert.Equal(centres.Keys.Order(), kinds.Keys.Order());
        Assert.All(kinds.Values, k => Assert.Equal(["arterial", "ring", "street"], k.Order()));
    }

    [Fact(Timeout = 30_000)]
    public async Task Registry_lists_are_scoped_like_the_vehicles()
    {
        var manager = await fleet.SessionAsync("manager1", Ct);
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        var own = await manager.GetApiAsync("/api/registry/departments", Ct);
        var every = await supervisor.GetApiAsync("/api/registry/departments", Ct);
        var ownZones = await manager.GetApiAsync("/api/registry/zones", Ct);
        var everyZone = await supervisor.GetApiAsync("/api/registry/zones", Ct);

        var only = Assert.Single(own.Body.EnumerateArray());
        Assert.Equal(department, only.GetProperty("id").GetInt32());
        Assert.Equal(await CountAsync("SELECT count(*) FROM departments"), every.Body.GetArrayLength());
        Assert.Equal(await CountAsync("SELECT count(*) FROM office_zones"), everyZone.Body.GetArrayLength());
        var zoneOfDepartment = only.GetProperty("zoneId");
        if (zoneOfDepartment.ValueKind == JsonValueKind.Null)
        {
            Assert.Empty(ownZones.Body.EnumerateArray());
        }
        else
        {
            Assert.Equal(zoneOfDepartment.GetInt32(), Assert.Single(ownZones.Body.EnumerateArray()).GetProperty("id").GetInt32());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Config_without_a_tile_URL_says_so_and_with_one_passes_it_on()
    {
        var supervisor = await fleet.SessionAsync("supervisor", Ct);
        var none = await supervisor.GetApiAsync("/api/map/config", Ct);
        Assert.Equal(HttpStatusCode.OK, none.Status);
        Assert.Equal(JsonValueKind.Null, none.Body.GetProperty("tileUrl").ValueKind);
        Assert.Equal(JsonValueKind.Null, none.Body.GetProperty("attribution").ValueKind);
        Assert.Equal(18, none.Body.GetProperty("maxZoom").GetInt32());

        const string Tiles = "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=demo";
        await using var host = await FleetHost.StartAsync(
            fleet.Db.ConnectionString,
            builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Fleet:Map:TileUrl"] = Tiles,
                ["Fleet:Map:Attribution"] = "天地图 GS(2024)0650号",
                ["Fleet:Map:Subdomains"] = "01234567",
                ["Fleet:Map:MaxZoom"] = "17",
            }),
            Ct);
        var session = host.CreateSessionClient();
        Assert.Equal(HttpStatusCode.OK, (await session.LoginAsync("supervisor", fleet.Passwords["supervisor"], Ct)).Status);

        var configured = await session.GetApiAsync("/api/map/config", Ct);

        Assert.Equal(Tiles, configured.Body.GetProperty("tileUrl").GetString());
        Assert.Equal("天地图 GS(2024)0650号", configured.Body.GetProperty("attribution").GetString());
        Assert.Equal("01234567", configured.Body.GetProperty("subdomains").GetString());
        Assert.Equal(17, configured.Body.GetProperty("maxZoom").GetInt32());
    }

    [Fact]
    public void A_tile_URL_without_placeholders_or_scheme_is_refused_at_start()
    {
        var validator = new Fleet.Web.Map.MapOptionsValidator();

        Assert.True(validator.Validate(null, new Fleet.Web.Map.MapOptions()).Succeeded);
        Assert.True(validator.Validate(null, new Fleet.Web.Map.MapOptions { TileUrl = "/tiles/{z}/{x}/{y}.png" }).Succeeded);
        var failed = validator.Validate(null, new Fleet.Web.Map.MapOptions { TileUrl = "javascript:alert(1)//{z}" });
        Assert.True(failed.Failed);
        Assert.Contains(failed.Failures!, f => f.Contains("http(s)", StringComparison.Ordinal));
        Assert.Contains(failed.Failures!, f => f.Contains("{x}", StringComparison.Ordinal));
    }

    private static List<JsonElement> Layer(JsonElement collection, string layer) =>
        collection.GetProperty("features").EnumerateArray()
            .Where(f => f.GetProperty("properties").GetProperty("layer").GetString() == layer)
            .ToList();

    private async Task<int> CountAsync(string sql)
    {
        await using var command = fleet.Db.CreateCommand(sql);
        return Convert.ToInt32(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}

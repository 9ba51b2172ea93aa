using System.Net;
using System.Text.Json;

namespace Fleet.Web.Tests;

public sealed class VehicleQueryTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Vehicle_list_items_carry_the_registry_fields_and_the_live_state()
    {
        var vehicles = await fleet.VehiclesAsync(Ct);
        var admin = await fleet.SessionAsync("admin", Ct);

        var page = await admin.GetApiAsync("/api/vehicles?pageSize=5", Ct);

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal(1, page.Body.GetProperty("page").GetInt32());
        Assert.Equal(5, page.Body.GetProperty("pageSize").GetInt32());
        Assert.Equal(200, page.Body.GetProperty("total").GetInt64());
        var items = page.Body.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(vehicles.Take(5).Select(v => v.Id), items.Select(i => i.GetProperty("id").GetInt64()));
        var first = items[0];
        foreach (var field in new[] { "plate", "vin", "category", "energy", "status", "terminalId" })
        {
            Assert.Equal(JsonValueKind.String, first.GetProperty(field).ValueKind);
        }

        Assert.False(string.IsNullOrEmpty(first.GetProperty("department").GetProperty("name").GetString()));
        Assert.Equal(JsonValueKind.Number, first.GetProperty("seats").ValueKind);
        Assert.True(first.GetProperty("marked").ValueKind is JsonValueKind.True or JsonValueKind.False);

        // Index 0 is moving, 3 offline, 4 unknown (see SeededFleet.ExpectedState); enums are camelCase strings.
        Assert.Equal("moving", items[0].GetProperty("live").GetProperty("state").GetString());
        Assert.True(items[0].GetProperty("live").GetProperty("online").GetBoolean());
        Assert.Equal("offline", items[3].GetProperty("live").GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, items[4].GetProperty("live").ValueKind);

        var detail = await admin.GetApiAsync($"/api/vehicles/{vehicles[0].Id}", Ct);
        Assert.Equal(vehicles[0].Plate, detail.Body.GetProperty("plate").GetString());
        Assert.Equal("owned", detail.Body.GetProperty("ownership").GetString());
        Assert.Equal(111.75, detail.Body.GetProperty("live").GetProperty("lon").GetDouble());
        Assert.Equal(JsonValueKind.Null, detail.Body.GetProperty("driver").ValueKind);
    }

    [Fact(Timeout = 30_000)]
    public async Task Plate_filter_matches_part_of_a_plate_ignoring_case()
    {
        var vehicles = await fleet.VehiclesAsync(Ct);
        var target = vehicles.First(v => v.Plate.Skip(1).Any(char.IsAsciiLetter));
        var part = target.Plate[1..4];
        var admin = await fleet.SessionAsync("admin", Ct);

        var page = await admin.GetApiAsync($"/api/vehicles?pageSize=500&plate={Uri.EscapeDataString(part.ToLowerInvariant())}", Ct);

        Assert.Equal(HttpStatusCode.OK, page.Status);
        var plates = page.Body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("plate").GetString()!).ToList();
        Assert.Contains(target.Plate, plates);
        Assert.All(plates, p => Assert.Contains(part, p, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(vehicles.Count(v => v.Plate.Contains(part, StringComparison.OrdinalIgnoreCase)), plates.Count);

        var exact = await admin.GetApiAsync($"/api/vehicles?plate={Uri.EscapeDataString(target.Plate)}", Ct);
        Assert.Equal(target.Id, Assert.Single(exact.Body.GetProperty("items").EnumerateArray()).GetProperty("id").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task Sql_metacharacters_in_the_plate_filter_are_plain_text()
    {
        var admin = await fleet.SessionAsync("admin", Ct);

        foreach (var plate in new[] { "'; DROP TABLE vehicles; --", "%", "_", "\\", "' OR '1'='1" })
        {
            var page = await admin.GetApiAsync($"/api/vehicles?plate={Uri.EscapeDataString(plate)}", Ct);
            Assert.Equal(HttpStatusCode.OK, page.Status);
            Assert.Equal(0, page.Body.GetProperty("total").GetInt64());
            Assert.Empty(page.Body.GetProperty("items").EnumerateArray());
        }

        Assert.Equal(200, (await fleet.VehiclesAsync(Ct)).Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task Paging_walks_the_list_and_refuses_a_page_size_over_the_maximum()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var seen = new List<long>();
        for (var page = 1; page <= 3; page++)
        {
            var response = await admin.GetApiAsync($"/api/vehicles?page={page}&pageSize=80", Ct);
            seen.AddRange(response.Body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64()));
        }

        Assert.Equal((await fleet.VehiclesAsync(Ct)).Select(v => v.Id), seen);
        var beyond = await admin.GetApiAsync("/api/vehicles?page=4&pageSize=80", Ct);
        Assert.Empty(beyond.Body.GetProperty("items").EnumerateArray());
        Assert.Equal(200, beyond.Body.GetProperty("total").GetInt64());

        var tooLarge = (await admin.GetApiAsync("/api/vehicles?pageSize=10000", Ct)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("500", tooLarge.GetProperty("errors").GetProperty("pageSize")[0].GetString(), StringComparison.Ordinal);
        var several = (await admin.GetApiAsync("/api/vehicles?page=0&pageSize=abc&departmentId=-1", Ct)).AssertProblem(HttpStatusCode.BadRequest);
        var errors = several.GetProperty("errors");
        Assert.True(errors.TryGetProperty("page", out _));
        Assert.True(errors.TryGetProperty("pageSize", out _));
        Assert.True(errors.TryGetProperty("departmentId", out _));
        Assert.Equal(HttpStatusCode.OK, (await admin.GetApiAsync("/api/vehicles?pageSize=500", Ct)).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Department_zone_and_live_state_filters_narrow_the_list()
    {
        var vehicles = await fleet.VehiclesAsync(Ct);
        var admin = await fleet.SessionAsync("admin", Ct);
        var department = vehicles[0].DepartmentId;

        var byDepartment = await admin.GetApiAsync($"/api/vehicles?pageSize=500&departmentId={department}", Ct);
        Assert.Equal(vehicles.Count(v => v.DepartmentId == department), byDepartment.Body.GetProperty("total").GetInt64());

        var zone = byDepartment.Body.GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("zone")).First(z => z.ValueKind == JsonValueKind.Object).GetProperty("id").GetInt32();
        var byZone = await admin.GetApiAsync($"/api/vehicles?pageSize=500&zoneId={zone}", Ct);
        Assert.NotEmpty(byZone.Body.GetProperty("items").EnumerateArray());
        Assert.All(byZone.Body.GetProperty("items").EnumerateArray(), i => Assert.Equal(zone, i.GetProperty("zone").GetProperty("id").GetInt32()));

        foreach (var state in new[] { "moving", "stopped", "parked", "offline", "unknown" })
        {
            var expected = vehicles.Where((_, i) => (SeededFleet.ExpectedState(i) ?? "unknown") == state).Select(v => v.Id);
            var page = await admin.GetApiAsync($"/api/vehicles?pageSize=500&state={state}", Ct);
            Assert.Equal(expected, page.Body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64()));
        }

        // State combines with the scope: the manager's moving vehicles only.
        var managerDepartment = await fleet.DepartmentOfAsync("manager1", Ct);
        var manager = await fleet.SessionAsync("manager1", Ct);
        var managerMoving = await manager.GetApiAsync("/api/vehicles?pageSize=500&state=moving", Ct);
        Assert.Equal(
            vehicles.Where((v, i) => v.DepartmentId == managerDepartment && SeededFleet.ExpectedState(i) == "moving").Select(v => v.Id),
            managerMoving.Body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64()));

        foreach (var bad in new[] { "flying", "Moving", "1" })
        {
            var problem = (await admin.GetApiAsync($"/api/vehicles?state={bad}", Ct)).AssertProblem(HttpStatusCode.BadRequest);
            Assert.True(problem.GetProperty("errors").TryGetProperty("state", out _));
        }
    }
}

using System.Net;
using System.Text.Json;

namespace Fleet.Web.Tests;

/// <summary>The scope rule: admin, supervisor and dispatcher see every department; the others only their own.</summary>
public sealed class ScopeTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Department_manager_lists_only_their_department_vehicles()
    {
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        var expected = (await fleet.VehiclesAsync(Ct)).Where(v => v.DepartmentId == department).Select(v => v.Id).ToList();
        Assert.NotEmpty(expected);
        var client = await fleet.SessionAsync("manager1", Ct);

        var page = await client.GetApiAsync("/api/vehicles?pageSize=500", Ct);

        Assert.Equal(HttpStatusCode.OK, page.Status);
        var items = page.Body.GetProperty("items").EnumerateArray().ToList();
        Assert.All(items, item => Assert.Equal(department, item.GetProperty("department").GetProperty("id").GetInt32()));
        Assert.Equal(expected, items.Select(i => i.GetProperty("id").GetInt64()));
        Assert.Equal(expected.Count, page.Body.GetProperty("total").GetInt64());

        // Asking for another department's vehicles explicitly gives nothing, not them.
        var other = (await fleet.VehiclesAsync(Ct)).First(v => v.DepartmentId != department).DepartmentId;
        var filtered = await client.GetApiAsync($"/api/vehicles?departmentId={other}", Ct);
        Assert.Equal(0, filtered.Body.GetProperty("total").GetInt64());
        Assert.Empty(filtered.Body.GetProperty("items").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Roles_see_all_departments_or_their_own_as_the_rule_says()
    {
        var vehicles = await fleet.VehiclesAsync(Ct);
        foreach (var (username, seesAll) in new[] { ("admin", true), ("supervisor", true), ("dispatcher", true), ("driver1", false), ("requester1", false), ("manager2", false) })
        {
            var client = await fleet.SessionAsync(username, Ct);
            var page = await client.GetApiAsync("/api/vehicles?pageSize=500", Ct);

            Assert.Equal(HttpStatusCode.OK, page.Status);
            var department = seesAll ? 0 : await fleet.DepartmentOfAsync(username, Ct);
            var expected = seesAll ? vehicles.Count : vehicles.Count(v => v.DepartmentId == department);
            Assert.True(expected > 0, username);
            Assert.Equal(expected, page.Body.GetProperty("total").GetInt64());
            Assert.Equal(expected, page.Body.GetProperty("items").GetArrayLength());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Another_department_vehicle_is_404_like_a_missing_one_for_the_vehicle_and_its_track()
    {
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        var vehicles = await fleet.VehiclesAsync(Ct);
        var own = vehicles.First(v => v.DepartmentId == department);
        var foreign = vehicles.First(v => v.DepartmentId != department);
        var client = await fleet.SessionAsync("manager1", Ct);

        var ownDetail = await client.GetApiAsync($"/api/vehicles/{own.Id}", Ct);
        Assert.Equal(HttpStatusCode.OK, ownDetail.Status);
        Assert.Equal(own.Plate, ownDetail.Body.GetProperty("plate").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetApiAsync($"/api/vehicles/{own.Id}/track", Ct)).Status);

        var foreignDetail = (await client.GetApiAsync($"/api/vehicles/{foreign.Id}", Ct)).AssertProblem(HttpStatusCode.NotFound);
        (await client.GetApiAsync($"/api/vehicles/{foreign.Id}/track", Ct)).AssertProblem(HttpStatusCode.NotFound);
        var missing = (await client.GetApiAsync("/api/vehicles/999999999", Ct)).AssertProblem(HttpStatusCode.NotFound);
        Assert.Equal(missing.GetProperty("title").GetString(), foreignDetail.GetProperty("title").GetString());
        Assert.DoesNotContain(foreign.Plate, foreignDetail.ToString(), StringComparison.Ordinal);

        // The admin sees the same vehicle.
        var admin = await fleet.SessionAsync("admin", Ct);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetApiAsync($"/api/vehicles/{foreign.Id}", Ct)).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Live_stats_count_only_the_vehicles_the_user_may_see()
    {
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        var vehicles = await fleet.VehiclesAsync(Ct);
        var manager = await (await fleet.SessionAsync("manager1", Ct)).GetApiAsync("/api/stats/live", Ct);
        var admin = await (await fleet.SessionAsync("admin", Ct)).GetApiAsync("/api/stats/live", Ct);

        AssertStats(manager.Body, vehicles.Select((v, i) => (v, i)).Where(x => x.v.DepartmentId == department).Select(x => x.i).ToList());
        AssertStats(admin.Body, Enumerable.Range(0, vehicles.Count).ToList());
        Assert.Equal(200, admin.Body.GetProperty("total").GetInt32());

        static void AssertStats(JsonElement stats, List<int> indexes)
        {
            Assert.Equal(indexes.Count, stats.GetProperty("total").GetInt32());
            foreach (var state in new[] { "moving", "stopped", "parked", "offline" })
            {
                Assert.Equal(indexes.Count(i => SeededFleet.ExpectedState(i) == state), stats.GetProperty(state).GetInt32());
            }

            Assert.Equal(indexes.Count(i => SeededFleet.ExpectedState(i) is null), stats.GetProperty("unknown").GetInt32());
        }
    }
}

using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Fleet.Web.Live;
using Fleet.Web.Tests.SignalR;
using Npgsql;

namespace Fleet.Web.Tests.Live;

/// <summary>
/// The live hub end to end: real Kestrel, the test's own SignalR JSON client, reports submitted to the co-hosted shard
/// host. Tests of this class run one after another on one host; each uses its own vehicles and waits for the frames
/// its own changes cause, so none leaves changes in flight for the next.
/// </summary>
public sealed class LiveHubTests(LiveFleet fleet) : IClassFixture<LiveFleet>
{
    private static readonly TimeSpan FrameWait = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(1200);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 20_000)]
    public async Task Admin_gets_a_snapshot_of_all_then_a_frame_with_exactly_the_changed_vehicles_as_compact_rows()
    {
        await using var client = await fleet.ConnectAsync("admin");

        var snapshot = await SubscribeAsync(client, new { kind = "all" });

        Assert.Equal(["id", "lat", "lon", "spd", "hdg", "state", "acc", "ts", "online"], snapshot.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        var rows = snapshot.GetProperty("rows");
        Assert.Equal(fleet.Vehicles.Select(v => v.Id).Order(), Ids(rows).Order());
        Assert.All(rows.EnumerateArray(), row => Assert.Equal(9, row.GetArrayLength()));
        Log($"snapshot of {rows.GetArrayLength()} rows: {BytesPerRow(rows):F1} bytes per row");

        var (a, b, c) = (fleet.Vehicles[0].Id, fleet.Vehicles[1].Id, fleet.Vehicles[2].Id);
        var moving = fleet.Fix(a, 40.84123456, 111.74987654, spd: 42.36f, hdg: 271, acc: true);
        var sparse = fleet.Fix(b, 40.85, 111.76);
        var stopped = fleet.Fix(c, 40.86, 111.77, spd: 0f, hdg: 0, acc: false);
        var sentAt = client.Elapsed;
        await fleet.SubmitAsync(moving, sparse, stopped);

        var frame = await NextFrameAsync(client);
        Assert.True(frame.ReceivedAt - sentAt < TimeSpan.FromSeconds(1.1), $"frame after {(frame.ReceivedAt - sentAt).TotalMilliseconds} ms");
        var body = frame.Arguments[0];
        // Changes made after the snapshot come with a greater seq: the page drops frames up to the snapshot's.
        Assert.True(body.GetProperty("seq").GetInt64() > snapshot.GetProperty("seq").GetInt64());
        Assert.Empty(body.GetProperty("removed").EnumerateArray());
        var byId = body.GetProperty("rows").EnumerateArray().ToDictionary(r => r[0].GetInt64());
        Assert.Equal(new[] { a, b, c }.Order(), byId.Keys.Order());

        Assert.Equal($"[{a},40.841235,111.749877,42.4,271,0,1,{moving.Fix.Ts},1]", byId[a].GetRawText());
        // Unreported speed, heading and ignition are null; the grain judges motion from the distance covered instead.
        Assert.Equal($"[{b},40.85,111.76,null,null,0,null,{sparse.Fix.Ts},1]", byId[b].GetRawText());
        Assert.Equal($"[{c},40.86,111.77,0,0,1,0,{stopped.Fix.Ts},1]", byId[c].GetRawText());
        Log($"frame of 3 rows: {frame.Bytes} bytes on the wire, {BytesPerRow(body.GetProperty("rows")):F1} bytes per row");
    }

    [Fact(Timeout = 20_000)]
    public async Task Continuous_updates_are_coalesced_into_frames_at_least_an_interval_apart()
    {
        await using var client = await fleet.ConnectAsync("supervisor");
        await SubscribeAsync(client, new { kind = "all" });
        var (a, b) = (fleet.Vehicles[3].Id, fleet.Vehicles[4].Id);

        // Both vehicles change every ~50 ms (a report and its commit) for 2.5 s.
        var lastLat = 0.0;
        var started = client.Elapsed;
        for (var i = 1; client.Elapsed - started < TimeSpan.FromSeconds(2.5); i++)
        {
            lastLat = 41 + (i * 0.0001);
            await fleet.SubmitAsync(fleet.Fix(a, lastLat, 112, spd: 30), fleet.Fix(b, lastLat, 112.5, spd: 30));
        }

        var frames = new List<ServerInvocation>();
        while (await client.NextAsync(LiveRow.MethodName, Quiet, Ct) is { } frame)
        {
            frames.Add(frame);
            if (LatOf(frame, a) == Math.Round(lastLat, 6) && LatOf(frame, b) == Math.Round(lastLat, 6))
            {
                break;
            }
        }

        var interval = new LiveOptions().FrameInterval.TotalMilliseconds;
        // At most one frame per interval (plus the tail); at least half that many on a busy machine.
        Assert.InRange(frames.Count, (int)(2500 / interval / 2), (int)(2500 / interval) + 3);
        foreach (var frame in frames)
        {
            // Coalesced: each vehicle at most once per frame, with its newest state of that moment.
            var ids = Ids(frame.Arguments[0].GetProperty("rows"));
            Assert.Equal(ids.Distinct(), ids);
            Assert.All(ids, id => Assert.Contains(id, new[] { a, b }));
        }

        var gaps = frames.Zip(frames.Skip(1), (x, y) => (y.ReceivedAt - x.ReceivedAt).TotalMilliseconds).ToList();
        Log($"{frames.Count} frames, gaps {string.Join(", ", gaps.Select(g => g.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))} ms");
        // The interval on the server; a little less is allowed for delivery jitter on a busy two-core machine.
        Assert.All(gaps, gap => Assert.True(gap >= 0.9 * interval, $"frames {gap} ms apart"));
        var seqs = frames.Select(f => f.Arguments[0].GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(seqs.Order(), seqs);
    }

    [Fact(Timeout = 20_000)]
    public async Task Department_manager_gets_only_their_department_in_the_snapshot_and_in_frames()
    {
        var department = await fleet.DepartmentOfAsync("manager1");
        var own = fleet.Vehicles.Where(v => v.DepartmentId == department).ToList();
        var foreign = fleet.Vehicles.Where(v => v.DepartmentId != department).Skip(10).Take(3).ToList();
        Assert.NotEmpty(own);
        await using var client = await fleet.ConnectAsync("manager1");

        // "all" for a department manager is all they may see.
        var snapshot = await SubscribeAsync(client, new { kind = "all" });
        Assert.Equal(own.Select(v => v.Id).Order(), Ids(snapshot.GetProperty("rows")).Order());

        await fleet.SubmitAsync([fleet.Fix(own[0].Id, 40.5, 111.5, spd: 20), .. foreign.Select(v => fleet.Fix(v.Id, 40.5, 111.5, spd: 20))]);
        var frame = await NextFrameAsync(client);
        Assert.Equal([own[0].Id], Ids(frame.Arguments[0].GetProperty("rows")));

        // Only other departments change: nothing at all is sent.
        await fleet.SubmitAsync(foreign.Select(v => fleet.Fix(v.Id, 40.6, 111.6, spd: 25)).ToArray());
        Assert.Null(await client.NextAsync(LiveRow.MethodName, Quiet, Ct));

        // Their own department by id is the same subscription.
        var explicitOwn = await SubscribeAsync(client, new { kind = "department", id = department });
        Assert.Equal(own.Select(v => v.Id).Order(), Ids(explicitOwn.GetProperty("rows")).Order());
    }

    [Fact(Timeout = 20_000)]
    public async Task Scopes_beyond_the_users_department_are_forbidden_whether_or_not_they_exist()
    {
        var department = await fleet.DepartmentOfAsync("manager1");
        var mine = fleet.Registry.Current.Departments[department];
        var otherDepartment = fleet.Vehicles.First(v => v.DepartmentId != department).DepartmentId;
        var otherRegion = fleet.Registry.Current.Regions.First(r => !mine.IsIn(r));
        var otherZone = fleet.Registry.Current.Zones.First(z => z != mine.ZoneId);
        await using var client = await fleet.ConnectAsync("manager1");

        foreach (var scope in new object[]
        {
            new { kind = "department", id = otherDepartment },
            new { kind = "department", id = 999_999 },
            new { kind = "region", id = otherRegion },
            new { kind = "region", id = 999_999 },
            new { kind = "zone", id = otherZone },
            new { kind = "zone", id = 999_999 },
        })
        {
            var error = await Assert.ThrowsAsync<HubInvocationException>(() => SubscribeAsync(client, scope));
            // SignalR prefixes a HubException's message with "An unexpected error occurred invoking 'Subscribe' …".
            Assert.EndsWith("HubException: forbidden", error.Message, StringComparison.Ordinal);
        }

        // The region their department is in is allowed, and still shows only their department.
        var region = await SubscribeAsync(client, new { kind = "region", id = mine.Regions[^1] });
        Assert.All(Ids(region.GetProperty("rows")), id => Assert.Equal(department, fleet.Vehicles.Single(v => v.Id == id).DepartmentId));

        // For someone who sees everything, an unknown id is simply unknown.
        await using var admin = await fleet.ConnectAsync("admin");
        var unknown = await Assert.ThrowsAsync<HubInvocationException>(() => SubscribeAsync(admin, new { kind = "department", id = 999_999 }));
        Assert.EndsWith("HubException: There is no department 999999.", unknown.Message, StringComparison.Ordinal);
        var zone = fleet.Vehicles.First(v => v.ZoneId is not null).ZoneId!.Value;
        var zoneSnapshot = await SubscribeAsync(admin, new { kind = "zone", id = zone });
        Assert.Equal(fleet.Vehicles.Where(v => v.ZoneId == zone).Select(v => v.Id).Order(), Ids(zoneSnapshot.GetProperty("rows")).Order());
    }

    [Fact(Timeout = 20_000)]
    public async Task Malformed_scopes_are_refused_with_a_message_that_says_what_is_wrong()
    {
        await using var client = await fleet.ConnectAsync("admin");

        foreach (var (scope, expected) in new (object Scope, string Expected)[]
        {
            (new { kind = "city" }, "Unknown scope kind 'city'"),
            (new { id = 1 }, "Unknown scope kind ''"),
            (new { kind = "region" }, "Scope kind 'region' needs a positive id."),
            (new { kind = "zone", id = -3 }, "Scope kind 'zone' needs a positive id."),
            (new { kind = "all", id = 4 }, "Scope kind 'all' takes no id."),
            (new { kind = "bbox" }, "bbox must be [minLon, minLat, maxLon, maxLat]: four numbers."),
            (new { kind = "bbox", bbox = new[] { 111.0, 40.0, 112.0 } }, "four numbers"),
            (new { kind = "bbox", bbox = new[] { 111.0, 40.0, 112.0, 95.0 } }, "latitudes within -90..90"),
            (new { kind = "bbox", bbox = new[] { 181.0, 40.0, 182.0, 41.0 } }, "longitudes within -180..180"),
            (new { kind = "bbox", bbox = new[] { 112.0, 40.0, 111.0, 41.0 } }, "min below max on both axes"),
        })
        {
            var error = await Assert.ThrowsAsync<HubInvocationException>(() => SubscribeAsync(client, scope));
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        }

        // A refused Subscribe leaves the connection usable.
        var snapshot = await SubscribeAsync(client, new { kind = "bbox", bbox = new[] { 110.99, 40.15, 111.01, 40.16 } });
        Assert.NotEmpty(snapshot.GetProperty("rows").EnumerateArray());
        Assert.All(snapshot.GetProperty("rows").EnumerateArray(), row => Assert.InRange(row[1].GetDouble(), 40.15, 40.16));
    }

    [Fact(Timeout = 20_000)]
    public async Task Without_a_session_negotiate_and_the_socket_are_401()
    {
        var negotiate = await Assert.ThrowsAsync<SignalRNegotiateException>(
            () => SignalRJsonClient.NegotiateAsync(fleet.Host.BaseAddress, LiveFleet.Hub, null, Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, negotiate.Status);

        var forged = await Assert.ThrowsAsync<SignalRNegotiateException>(
            () => SignalRJsonClient.NegotiateAsync(fleet.Host.BaseAddress, LiveFleet.Hub, $"{Auth.AuthApi.CookieName}=forged", Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, forged.Status);

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(SignalRJsonClient.SocketUri(fleet.Host.BaseAddress, LiveFleet.Hub, null), Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Fact(Timeout = 20_000)]
    public async Task Bbox_sends_vehicles_that_enter_and_lists_the_ones_that_leave_as_removed()
    {
        var box = new[] { 100.0, 30.0, 100.1, 30.1 };
        var (a, b, c) = (fleet.Vehicles[20].Id, fleet.Vehicles[21].Id, fleet.Vehicles[22].Id);
        await using var client = await fleet.ConnectAsync("admin");
        var snapshot = await SubscribeAsync(client, new { kind = "bbox", bbox = box });
        Assert.Empty(snapshot.GetProperty("rows").EnumerateArray());

        await fleet.SubmitAsync(fleet.Fix(a, 30.05, 100.05, spd: 10), fleet.Fix(c, 42.0, 113.0, spd: 10));
        var entered = (await NextFrameAsync(client)).Arguments[0];
        Assert.Equal([a], Ids(entered.GetProperty("rows")));
        Assert.Empty(entered.GetProperty("removed").EnumerateArray());

        await fleet.SubmitAsync(fleet.Fix(a, 30.2, 100.05, spd: 10), fleet.Fix(b, 30.01, 100.09, spd: 10));
        var swapped = (await NextFrameAsync(client)).Arguments[0];
        Assert.Equal([b], Ids(swapped.GetProperty("rows")));
        Assert.Equal([a], swapped.GetProperty("removed").EnumerateArray().Select(r => r.GetInt64()));

        // Moving about outside the box, or inside it, changes only what it should.
        await fleet.SubmitAsync(fleet.Fix(a, 30.3, 100.05, spd: 10), fleet.Fix(c, 42.1, 113.0, spd: 10));
        Assert.Null(await client.NextAsync(LiveRow.MethodName, Quiet, Ct));
        await fleet.SubmitAsync(fleet.Fix(b, 30.02, 100.08, spd: 12));
        var within = (await NextFrameAsync(client)).Arguments[0];
        Assert.Equal([b], Ids(within.GetProperty("rows")));
        Assert.Empty(within.GetProperty("removed").EnumerateArray());

        // A department manager's box holds their department's vehicles only.
        var department = await fleet.DepartmentOfAsync("manager1");
        var own = fleet.Vehicles.Last(v => v.DepartmentId == department).Id;
        var foreign = fleet.Vehicles.Last(v => v.DepartmentId != department).Id;
        await using var manager = await fleet.ConnectAsync("manager1");
        await SubscribeAsync(manager, new { kind = "bbox", bbox = new[] { 101.0, 31.0, 101.1, 31.1 } });
        await fleet.SubmitAsync(fleet.Fix(own, 31.05, 101.05, spd: 10), fleet.Fix(foreign, 31.06, 101.06, spd: 10));
        Assert.Equal([own], Ids((await NextFrameAsync(manager)).Arguments[0].GetProperty("rows")));
    }

    [Fact(Timeout = 20_000)]
    public async Task Unsubscribe_stops_frames_and_a_new_subscribe_replaces_the_old_one()
    {
        var (a, b) = (fleet.Vehicles[30], fleet.Vehicles.First(v => v.DepartmentId != fleet.Vehicles[30].DepartmentId && v.Id > fleet.Vehicles[30].Id));
        await using var client = await fleet.ConnectAsync("dispatcher");
        await SubscribeAsync(client, new { kind = "all" });
        await fleet.SubmitAsync(fleet.Fix(a.Id, 40.7, 111.7, spd: 15));
        Assert.Equal([a.Id], Ids((await NextFrameAsync(client)).Arguments[0].GetProperty("rows")));

        await client.InvokeAsync("Unsubscribe", [], Ct);
        await fleet.SubmitAsync(fleet.Fix(a.Id, 40.71, 111.7, spd: 15));
        Assert.Null(await client.NextAsync(LiveRow.MethodName, Quiet, Ct));

        // Subscribing to b's department: a's changes no longer come, b's do.
        await SubscribeAsync(client, new { kind = "department", id = b.DepartmentId });
        await fleet.SubmitAsync(fleet.Fix(a.Id, 40.72, 111.7, spd: 15), fleet.Fix(b.Id, 40.72, 111.7, spd: 15));
        Assert.Equal([b.Id], Ids((await NextFrameAsync(client)).Arguments[0].GetProperty("rows")));
    }

    [Fact(Timeout = 20_000)]
    public async Task A_vehicle_moved_to_another_department_follows_its_new_department_at_once()
    {
        var department = await fleet.DepartmentOfAsync("manager2");
        var moved = fleet.Vehicles.Last(v => v.DepartmentId != department && v.Id != fleet.Vehicles[^1].Id);
        await using var client = await fleet.ConnectAsync("manager2");
        await SubscribeAsync(client, new { kind = "all" });

        var loads = fleet.Registry.Current.LoadCount;
        await SetDepartmentAsync(moved.Id, department);
        try
        {
            // The registry map hears of it through fleet_registry (migration 0004), not by polling.
            await LiveFleet.WaitUntilAsync(() => fleet.Registry.Current.LoadCount > loads, TimeSpan.FromSeconds(5), Ct);
            await fleet.SubmitAsync(fleet.Fix(moved.Id, 40.9, 111.9, spd: 10));
            Assert.Equal([moved.Id], Ids((await NextFrameAsync(client)).Arguments[0].GetProperty("rows")));
        }
        finally
        {
            loads = fleet.Registry.Current.LoadCount;
            await SetDepartmentAsync(moved.Id, moved.DepartmentId);
            await LiveFleet.WaitUntilAsync(() => fleet.Registry.Current.LoadCount > loads, TimeSpan.FromSeconds(5), Ct);
        }

        await fleet.SubmitAsync(fleet.Fix(moved.Id, 40.91, 111.9, spd: 10));
        Assert.Null(await client.NextAsync(LiveRow.MethodName, Quiet, Ct));
    }

    private static async Task<JsonElement> SubscribeAsync(SignalRJsonClient client, object scope) =>
        await client.InvokeAsync("Subscribe", [scope], Ct);

    private static async Task<ServerInvocation> NextFrameAsync(SignalRJsonClient client) =>
        await client.NextAsync(LiveRow.MethodName, FrameWait, Ct) ?? throw new Xunit.Sdk.XunitException($"no frame within {FrameWait.TotalMilliseconds} ms");

    private static List<long> Ids(JsonElement rows) => rows.EnumerateArray().Select(r => r[0].GetInt64()).ToList();

    private static double? LatOf(ServerInvocation frame, long vehicleId) =>
        frame.Arguments[0].GetProperty("rows").EnumerateArray().Where(r => r[0].GetInt64() == vehicleId).Select(r => (double?)r[1].GetDouble()).FirstOrDefault();

    /// <summary>The rows' JSON without the enclosing brackets and separating commas, per row.</summary>
    private static double BytesPerRow(JsonElement rows) =>
        rows.EnumerateArray().Average(r => System.Text.Encoding.UTF8.GetByteCount(r.GetRawText()) + 1.0);

    private static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);

    private async Task SetDepartmentAsync(long vehicleId, int departmentId)
    {
        await using var command = fleet.Db.CreateCommand("UPDATE vehicles SET department_id = $2 WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = vehicleId });
        command.Parameters.Add(new NpgsqlParameter { Value = departmentId });
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Ct));
    }
}

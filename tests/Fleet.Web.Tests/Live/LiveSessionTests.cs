using System.Net;
using System.Text.Json;
using Fleet.Web.Live;
using Fleet.Web.Tests.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fleet.Web.Tests.Live;

/// <summary>
/// The live hub's session checks: the cookie is checked once, when the socket opens, so <c>Subscribe</c> and the
/// broadcaster's periodic recheck (1 s here) must catch a user disabled, demoted or moved while their map is open.
/// A fleet of its own: these tests change users, which would revoke the sessions other live tests reuse.
/// </summary>
public sealed class LiveSessionTests(LiveFleet fleet) : IClassFixture<LiveFleet>
{
    private static readonly TimeSpan FrameWait = TimeSpan.FromMilliseconds(1500);

    // Two recheck intervals, and room for a busy two-core machine.
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task A_manager_moved_to_another_department_loses_the_live_feed_within_the_recheck_interval()
    {
        var own = await fleet.DepartmentOfAsync("manager1");
        var other = await fleet.DepartmentOfAsync("manager2");
        Assert.NotEqual(own, other);
        var ownVehicle = fleet.Vehicles.First(v => v.DepartmentId == own);
        await using var client = await fleet.ConnectAsync("manager1");
        await SubscribeAsync(client, new { kind = "all" });
        await fleet.SubmitAsync(fleet.Fix(ownVehicle.Id, 40.5, 111.5, spd: 20));
        Assert.Equal([ownVehicle.Id], Ids(await NextFrameAsync(client)));

        await SetUserAsync("manager1", "department_id", other);
        try
        {
            // Whatever it was subscribed to, the connection is closed: its claims say a department it is no longer in.
            await ClosedWithinAsync(client, CloseWait);

            // Reconnecting with the same cookie is refused too (the REST session check), so the page must sign in again.
            var reconnect = await Assert.ThrowsAsync<SignalRNegotiateException>(() => fleet.ConnectAsync("manager1"));
            Assert.Equal(HttpStatusCode.Unauthorized, reconnect.Status);
        }
        finally
        {
            await SetUserAsync("manager1", "department_id", own);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_disabled_users_subscribe_is_refused_as_forbidden_and_the_connection_closed()
    {
        await using var client = await fleet.ConnectAsync("driver1");
        await SubscribeAsync(client, new { kind = "all" });

        await SetUserAsync("driver1", "enabled", false);
        try
        {
            var error = await Assert.ThrowsAsync<HubInvocationException>(() => SubscribeAsync(client, new { kind = "all" }));
            Assert.EndsWith("HubException: forbidden", error.Message, StringComparison.Ordinal);
            await ClosedWithinAsync(client, CloseWait);
        }
        finally
        {
            await SetUserAsync("driver1", "enabled", true);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_demoted_supervisors_subscribe_is_refused_before_the_recheck_gets_to_it()
    {
        await using var client = await fleet.ConnectAsync("supervisor");
        await SubscribeAsync(client, new { kind = "all" });

        var department = await fleet.DepartmentOfAsync("manager1");
        await DemoteAsync("supervisor", "department_manager", department);
        try
        {
            // Straight away, not a recheck interval later: Subscribe asks the database itself.
            var error = await Assert.ThrowsAsync<HubInvocationException>(() => SubscribeAsync(client, new { kind = "all" }));
            Assert.EndsWith("HubException: forbidden", error.Message, StringComparison.Ordinal);
            await ClosedWithinAsync(client, CloseWait);
        }
        finally
        {
            await DemoteAsync("supervisor", "supervisor", null);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unchanged_user_keeps_receiving_frames_across_rechecks_while_a_changed_one_is_closed()
    {
        var department = await fleet.DepartmentOfAsync("manager2");
        var vehicle = fleet.Vehicles.Last(v => v.DepartmentId == department);
        await using var kept = await fleet.ConnectAsync("manager2");
        await using var admin = await fleet.ConnectAsync("admin");
        await using var dropped = await fleet.ConnectAsync("dispatcher");
        await SubscribeAsync(kept, new { kind = "all" });
        await SubscribeAsync(admin, new { kind = "all" });
        await SubscribeAsync(dropped, new { kind = "all" });

        await SetUserAsync("dispatcher", "enabled", false);
        try
        {
            await ClosedWithinAsync(dropped, CloseWait);

            // Several rechecks later, the others' connections are open and their frames still come.
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
                await fleet.SubmitAsync(fleet.Fix(vehicle.Id, 40.5 + (i * 0.01), 111.5, spd: 20));
                Assert.Equal([vehicle.Id], Ids(await NextFrameAsync(kept)));
                Assert.Equal([vehicle.Id], Ids(await NextFrameAsync(admin)));
            }

            // Only the disabled one's subscription is gone (earlier tests' connections may still be going away).
            var broadcaster = fleet.Host.Services.GetRequiredService<LiveBroadcaster>();
            await LiveFleet.WaitUntilAsync(() => broadcaster.Subscribers == 2, TimeSpan.FromSeconds(5), Ct);
        }
        finally
        {
            await SetUserAsync("dispatcher", "enabled", true);
        }
    }

    private static async Task<JsonElement> SubscribeAsync(SignalRJsonClient client, object scope) =>
        await client.InvokeAsync("Subscribe", [scope], Ct);

    private static async Task<JsonElement> NextFrameAsync(SignalRJsonClient client) =>
        (await client.NextAsync(LiveRow.MethodName, FrameWait, Ct) ?? throw new Xunit.Sdk.XunitException($"no frame within {FrameWait.TotalMilliseconds} ms")).Arguments[0];

    private static List<long> Ids(JsonElement frame) => frame.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()).ToList();

    /// <summary>Waits for the server to close the connection, reading (and dropping) whatever it sent before.</summary>
    private static async Task ClosedWithinAsync(SignalRJsonClient client, TimeSpan timeout)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        window.CancelAfter(timeout);
        try
        {
            while (await client.Invocations.WaitToReadAsync(window.Token))
            {
                while (client.Invocations.TryRead(out _))
                {
                }
            }
        }
        catch (HubInvocationException)
        {
            // Closed with an error: closed all the same.
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            throw new Xunit.Sdk.XunitException($"the connection was still open after {timeout.TotalMilliseconds} ms");
        }
    }

    private async Task DemoteAsync(string username, string role, int? departmentId)
    {
        // One statement: a department role needs a department (users_department_required).
        await using var command = fleet.Db.CreateCommand("UPDATE users SET role = $2, department_id = $3 WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        command.Parameters.Add(new NpgsqlParameter { Value = role });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer, Value = (object?)departmentId ?? DBNull.Value });
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Ct));
    }

    private async Task SetUserAsync(string username, string column, object value)
    {
        // The column is one of the test's own constants, never input.
        await using var command = fleet.Db.CreateCommand($"UPDATE users SET {column} = $2 WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        command.Parameters.Add(new NpgsqlParameter { Value = value });
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Ct));
    }
}

using System.Net;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Web.Tests;

public sealed class RejectsTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Supervisor_sees_recorded_rejects_newest_first_with_the_payload_as_base64_and_escaped_text()
    {
        var payload = Encoding.UTF8.GetBytes("{\"ts\":1,\"lat\":999,\"note\":\"蒙A\"}\n").Concat(new byte[] { 0xE8, 0x92 }).ToArray();
        var at = new DateTimeOffset(2026, 11, 21, 8, 0, 0, TimeSpan.Zero);
        await InsertAsync("T-REJ-1", at, "InvalidPosition", "lat", payload);
        await InsertAsync("T-REJ-1", at.AddMinutes(1), "MalformedJson", null, null);
        await InsertAsync("T-REJ-2", at.AddMinutes(2), "UnknownTerminal", null, [0x00, 0x41]);
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        var page = await supervisor.GetApiAsync("/api/telemetry/rejects?terminalId=T-REJ-1", Ct);

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal(2, page.Body.GetProperty("total").GetInt64());
        var items = page.Body.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["MalformedJson", "InvalidPosition"], items.Select(i => i.GetProperty("reason").GetString()));
        var invalid = items[1];
        Assert.Equal("T-REJ-1", invalid.GetProperty("terminalId").GetString());
        Assert.Equal("lat", invalid.GetProperty("field").GetString());
        Assert.Equal(at, invalid.GetProperty("receivedAt").GetDateTimeOffset());
        Assert.Equal(Convert.ToBase64String(payload), invalid.GetProperty("payloadBase64").GetString());
        // The character cut in half at the end shows as \x escapes; the newline as \n.
        Assert.Equal("{\"ts\":1,\"lat\":999,\"note\":\"蒙A\"}\\n\\xE8\\x92", invalid.GetProperty("payloadText").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, items[0].GetProperty("payloadBase64").ValueKind);

        var other = await supervisor.GetApiAsync("/api/telemetry/rejects?terminalId=T-REJ-2", Ct);
        Assert.Equal("\\u0000A", other.Body.GetProperty("items")[0].GetProperty("payloadText").GetString());

        var window = await supervisor.GetApiAsync("/api/telemetry/rejects?from=2026-11-21T08:00:30Z&to=2026-11-21T08:01:30Z", Ct);
        Assert.Equal("MalformedJson", Assert.Single(window.Body.GetProperty("items").EnumerateArray()).GetProperty("reason").GetString());

        var admin = await fleet.SessionAsync("admin", Ct);
        Assert.Equal(3, (await admin.GetApiAsync("/api/telemetry/rejects?pageSize=1", Ct)).Body.GetProperty("total").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task Rejects_are_403_for_roles_other_than_admin_and_supervisor()
    {
        foreach (var username in new[] { "manager1", "dispatcher", "driver1" })
        {
            var client = await fleet.SessionAsync(username, Ct);
            var problem = (await client.GetApiAsync("/api/telemetry/rejects", Ct)).AssertProblem(HttpStatusCode.Forbidden);
            Assert.Equal("无权访问", problem.GetProperty("title").GetString());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Rejects_query_errors_are_400()
    {
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        (await supervisor.GetApiAsync("/api/telemetry/rejects?from=2026-11-21T09:00:00Z&to=2026-11-21T08:00:00Z", Ct)).AssertProblem(HttpStatusCode.BadRequest);
        (await supervisor.GetApiAsync("/api/telemetry/rejects?pageSize=501", Ct)).AssertProblem(HttpStatusCode.BadRequest);
    }

    private async Task InsertAsync(string terminal, DateTimeOffset at, string reason, string? field, byte[]? payload)
    {
        await using var command = fleet.Db.CreateCommand(
            "INSERT INTO telemetry_rejects (terminal_id, received_at, reason, field, payload_head) VALUES ($1, $2, $3, $4, $5)");
        command.Parameters.Add(new NpgsqlParameter { Value = terminal });
        command.Parameters.Add(new NpgsqlParameter { Value = at });
        command.Parameters.Add(new NpgsqlParameter { Value = reason });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)field ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = (object?)payload ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(Ct);
    }
}

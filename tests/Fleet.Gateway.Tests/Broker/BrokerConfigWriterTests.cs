using System.Diagnostics;
using System.Runtime.Versioning;
using Fleet.Core.Security;
using Fleet.Gateway.Broker;
using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Gateway.Tests.Broker;

/// <summary>The password and ACL files generated from the terminals table, read by a real Mosquitto.</summary>
public sealed class BrokerConfigWriterTests(PostgresFixture postgres)
{
    [Fact(Timeout = 60_000)]
    public async Task Generated_files_let_enabled_terminals_connect_and_refuse_disabled_ones()
    {
        await using var kit = await BrokerTestKit.CreateAsync(postgres);
        await kit.AddTerminalAsync("T-A", "secret-a");
        await kit.AddTerminalAsync("T-B", "secret-b");
        await kit.AddTerminalAsync("T-OFF", "secret-off", enabled: false);
        using var writer = kit.CreateWriter();

        var result = await writer.WriteAsync(BrokerTestKit.Token);
        Assert.Equal(2, result.Terminals);
        Assert.Equal(0, result.Skipped);
        Assert.False(result.Reloaded); // No broker yet: it reads the files when it starts.

        await kit.StartBrokerAsync();
        Assert.Null(await kit.TryConnectAsync("T-A", "secret-a"));
        Assert.Null(await kit.TryConnectAsync("T-B", "secret-b"));
        Assert.NotNull(await kit.TryConnectAsync("T-OFF", "secret-off"));
        Assert.NotNull(await kit.TryConnectAsync("T-A", "secret-b"));
        Assert.NotNull(await kit.TryConnectAsync("T-UNKNOWN", "secret-a"));
        Assert.Null(await kit.TryConnectAsync(BrokerTestKit.GatewayUser, kit.GatewayPassword));
        Assert.Null(await kit.TryConnectAsync(BrokerTestKit.SimulatorUser, kit.SimulatorPassword));
    }

    [Fact(Timeout = 60_000)]
    [UnsupportedOSPlatform("windows")]
    public async Task Files_list_the_service_users_first_and_confine_terminals_by_pattern_readable_only_by_the_broker()
    {
        await using var kit = await BrokerTestKit.CreateAsync(postgres);
        await kit.AddTerminalAsync("T-2", "two");
        await kit.AddTerminalAsync("T-1", "one");
        using var writer = kit.CreateWriter();

        await writer.WriteAsync(BrokerTestKit.Token);

        var passwords = await File.ReadAllLinesAsync(kit.Options.PasswordFile, BrokerTestKit.Token);
        Assert.Equal(["fleet-gateway", "fleet-simulator", "T-1", "T-2"], passwords.Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]));
        Assert.Equal(kit.Options.GatewayPasswordHash, passwords[0]["fleet-gateway:".Length..]);
        Assert.True(MosquittoPasswordHash.Verify("one", passwords[2]["T-1:".Length..]));

        var acl = (await File.ReadAllLinesAsync(kit.Options.AclFile, BrokerTestKit.Token))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToArray();
        Assert.Equal(
            [
                "pattern write fleet/v1/%u/telemetry",
                "pattern write fleet/v1/%u/status",
                "pattern read fleet/v1/%u/command",
                "user fleet-gateway",
                "topic read fleet/v1/+/telemetry",
                "topic read fleet/v1/+/status",
                "topic write fleet/v1/+/command",
                "user fleet-simulator",
                "topic write fleet/v1/+/telemetry",
                "topic write fleet/v1/+/status",
                "topic read fleet/v1/+/command",
            ],
            acl);

        const UnixFileMode OwnerReadWriteGroupRead = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        Assert.Equal(OwnerReadWriteGroupRead, File.GetUnixFileMode(kit.Options.PasswordFile));
        Assert.Equal(OwnerReadWriteGroupRead, File.GetUnixFileMode(kit.Options.AclFile));
        if (Environment.IsPrivilegedProcess)
        {
            var owner = await MosquittoProcessRunner.RunAsync("stat", ["-c", "%U:%G", kit.Options.PasswordFile, kit.Options.AclFile], TimeSpan.FromSeconds(10), BrokerTestKit.Token);
            Assert.Equal(["mosquitto:mosquitto", "mosquitto:mosquitto"], owner.Lines);
        }

        // Nothing is left behind by the atomic replace.
        Assert.Equal(["acl", "passwd"], Directory.GetFiles(kit.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_terminal_named_like_a_service_user_or_with_a_malformed_hash_is_left_out()
    {
        await using var kit = await BrokerTestKit.CreateAsync(postgres);
        await kit.AddTerminalAsync(BrokerTestKit.GatewayUser, "impostor");
        await kit.AddTerminalAsync("T-OK", "fine");
        await kit.ExecuteAsync("INSERT INTO terminals (id, credential_hash) VALUES ('T-BAD', $1)", "plain-text\nfleet-admin:$7$1$AAAA$AAAA");
        using var writer = kit.CreateWriter();

        var result = await writer.WriteAsync(BrokerTestKit.Token);

        Assert.Equal(1, result.Terminals);
        Assert.Equal(2, result.Skipped);
        var passwords = await File.ReadAllLinesAsync(kit.Options.PasswordFile, BrokerTestKit.Token);
        Assert.Equal(["fleet-gateway", "fleet-simulator", "T-OK"], passwords.Select(l => l.Split(':')[0]));
        Assert.Equal(kit.Options.GatewayPasswordHash, passwords[0]["fleet-gateway:".Length..]);

        await kit.StartBrokerAsync();
        Assert.NotNull(await kit.TryConnectAsync(BrokerTestKit.GatewayUser, "impostor"));
        Assert.Null(await kit.TryConnectAsync(BrokerTestKit.GatewayUser, kit.GatewayPassword));
    }

    [Fact(Timeout = 180_000)]
    public async Task Writing_the_files_for_100k_terminals_takes_well_under_a_few_seconds_and_the_broker_reloads_them()
    {
        const int Count = 100_000;
        await using var kit = await BrokerTestKit.CreateAsync(postgres);
        // Real, distinct hashes cost 100k PBKDF2 runs; one hash repeated has the same size and makes the same file.
        await kit.ExecuteAsync(
            "INSERT INTO terminals (id, credential_hash) SELECT 'T' || lpad(g::text, 6, '0'), $1 FROM generate_series(1, $2) AS g",
            MosquittoPasswordHash.Create("bulk"),
            Count);
        using var writer = kit.CreateWriter();
        await writer.WriteAsync(BrokerTestKit.Token); // Warm-up: JIT, plan, page cache.

        var timings = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var result = await writer.WriteAsync(BrokerTestKit.Token);
            Assert.Equal(Count, result.Terminals);
            timings.Add(result.Elapsed.TotalMilliseconds);
        }

        var size = new FileInfo(kit.Options.PasswordFile).Length;
        TestContext.Current.SendDiagnosticMessage("Broker files for {0} terminals ({1:F1} MB): {2} ms", Count, size / 1e6, string.Join(" / ", timings.Select(t => t.ToString("F0", System.Globalization.CultureInfo.InvariantCulture))));
        Assert.True(timings.Min() < 2_000, $"Writing took {timings.Min():F0} ms");

        // Mosquitto takes the 100k users, and a new terminal gets in after one rewrite and SIGHUP.
        var broker = await kit.StartBrokerAsync();
        Assert.Null(await kit.TryConnectAsync("T100000", "bulk"));
        await kit.AddTerminalAsync("T-NEW", "new");
        var stopwatch = Stopwatch.StartNew();
        var written = await writer.WriteAsync(BrokerTestKit.Token);
        Assert.True(written.Reloaded);
        var pid = broker.ProcessId;
        await kit.EventuallyAsync(async () => await kit.TryConnectAsync("T-NEW", "new") is null, TimeSpan.FromSeconds(10), "T-NEW accepted after the reload");
        TestContext.Current.SendDiagnosticMessage("Rewrite + SIGHUP + reload of {0} users until the new terminal connects: {1} ms", Count + 3, stopwatch.ElapsedMilliseconds);
        Assert.Equal(pid, broker.ProcessId);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_stale_pid_file_naming_another_process_is_not_signalled()
    {
        await using var kit = await BrokerTestKit.CreateAsync(postgres);
        await File.WriteAllTextAsync(kit.Options.PidFile!, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), BrokerTestKit.Token);
        using var writer = kit.CreateWriter();

        // SIGHUP would end this very test host; the writer sees the pid is not Mosquitto's and leaves it alone.
        var result = await writer.WriteAsync(BrokerTestKit.Token);

        Assert.False(result.Reloaded);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_notify_trigger_announces_inserts_updates_and_deletes_of_terminals()
    {
        await using var kit = await BrokerTestKit.CreateAsync(postgres);
        await using var connection = await kit.Db.OpenConnectionAsync(BrokerTestKit.Token);
        var received = new List<string>();
        connection.Notification += (_, e) => received.Add(e.Channel + ":" + e.Payload);
        await using (var listen = new NpgsqlCommand("LISTEN fleet_registry", connection))
        {
            await listen.ExecuteNonQueryAsync(BrokerTestKit.Token);
        }

        await kit.AddTerminalAsync("T-N", "n");
        await kit.ExecuteAsync("UPDATE terminals SET enabled = false WHERE id = 'T-N'");
        await kit.ExecuteAsync("DELETE FROM terminals WHERE id = 'T-N'");
        // A statement that touches no row is still one statement: statement-level triggers fire regardless.
        await kit.ExecuteAsync("UPDATE terminals SET enabled = true WHERE id = 'none'");

        while (received.Count < 4 && await connection.WaitAsync(TimeSpan.FromSeconds(5), BrokerTestKit.Token))
        {
        }

        Assert.Equal(Enumerable.Repeat("fleet_registry:terminals", 4), received);
    }
}

using System.Globalization;
using Fleet.Silo.Hosting;
using Fleet.Silo.Persistence;
using Fleet.Silo.Registry;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fleet.Web.Demo;

/// <summary>
/// <c>Fleet.Web seed --vehicles N [--seed S] [--credentials PATH]</c>: migrates and seeds the demo province, printing
/// progress, then exits. The caller passes the host's configuration (appsettings, Fleet__Database__…).
/// </summary>
public static class SeedCommand
{
    private const string Usage = "usage: seed [--vehicles N (1-100000, default 2000)] [--seed S] [--credentials PATH]";

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var demo = new DemoOptions { SeedVehicles = 2000 };
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--vehicles" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 100_000:
                    demo.SeedVehicles = n;
                    i++;
                    break;
                case "--seed" when int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s):
                    demo.Seed = s;
                    i++;
                    break;
                case "--credentials" when !string.IsNullOrWhiteSpace(value):
                    demo.CredentialsFile = value;
                    i++;
                    break;
                default:
                    await error.WriteLineAsync($"seed: '{args[i]}' {(value is null ? "" : $"'{value}' ")}is not understood. {Usage}");
                    return 2;
            }
        }

        var connectionString = configuration[$"{DatabaseOptions.Section}:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            await error.WriteLineAsync("seed: Fleet:Database:ConnectionString is not set. Set Fleet__Database__ConnectionString (./fleet seed does this).");
            return 2;
        }

        try
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await MigrationRunner.ApplyAsync(dataSource, NullLogger.Instance, cancellationToken);
            var result = await DemoSeeding.SeedAsync(dataSource, demo, new LineProgress(output), NullLogger.Instance, cancellationToken);
            output.WriteLine(result.AlreadySeeded
                ? $"The registry already holds {result.Counts.Vehicles} vehicles: nothing seeded. To start over, run ./fleet down and delete .fleet/."
                : $"Seeded {result.Counts.Vehicles} vehicles, {result.Counts.Terminals} terminals, {result.Counts.Drivers} drivers, {result.Counts.Departments} departments, {result.Counts.OfficeZones} office zones and {result.Counts.Users} users in {result.Elapsed.TotalSeconds:F1} s.");
            if (!result.AlreadySeeded && demo.CredentialsFile is not null)
            {
                output.WriteLine($"Demo logins and terminal credentials: {demo.CredentialsFile}");
            }

            return 0;
        }
        catch (NpgsqlException ex)
        {
            await error.WriteLineAsync($"seed: the database refused or is unreachable: {ex.Message}. Is it running? (./fleet status)");
            return 1;
        }
    }

    /// <summary>One line per phase and per tenth of it, so a 100,000-vehicle seed shows it is moving.</summary>
    private sealed class LineProgress(TextWriter output) : IProgress<SeedProgress>
    {
        private string? _phase;
        private int _lastTenth = -1;

        public void Report(SeedProgress value)
        {
            var tenth = value.Total > 0 ? value.Completed * 10 / value.Total : 10;
            if (value.Phase == _phase && tenth == _lastTenth)
            {
                return;
            }

            _phase = value.Phase;
            _lastTenth = tenth;
            output.WriteLine($"  {value.Phase,-22} {value.Completed,7}/{value.Total,-7} {tenth * 10,3}%");
        }
    }
}

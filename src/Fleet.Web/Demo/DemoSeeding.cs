using Fleet.Silo.Registry;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Demo;

/// <summary>Seeds the demo province once, after the migrations, when <see cref="DemoOptions.SeedVehicles"/> is set.</summary>
internal sealed partial class DemoSeeding(NpgsqlDataSource dataSource, IOptions<DemoOptions> options, ILogger<DemoSeeding> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var demo = options.Value;
        if (demo.SeedVehicles > 0)
        {
            await SeedAsync(dataSource, demo, new Progress<SeedProgress>(p => LogProgress(logger, p.Phase, p.Completed, p.Total)), logger, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Seeds if the registry is empty and writes the credentials file; shared with the <c>seed</c> command.</summary>
    public static async Task<DemoSeedResult> SeedAsync(NpgsqlDataSource dataSource, DemoOptions demo, IProgress<SeedProgress>? progress, ILogger logger, CancellationToken cancellationToken)
    {
        var result = await DemoProvinceSeeder.SeedAsync(dataSource, new DemoSeedOptions(demo.SeedVehicles, demo.Seed), progress, cancellationToken);
        if (result.AlreadySeeded)
        {
            LogAlreadySeeded(logger, result.Counts.Vehicles);
            return result;
        }

        LogSeeded(logger, result.Counts.Vehicles, result.Counts.Departments, result.Counts.OfficeZones, result.Elapsed.TotalSeconds);
        if (!string.IsNullOrWhiteSpace(demo.CredentialsFile))
        {
            await DemoCredentialsFile.WriteAsync(demo.CredentialsFile, result, cancellationToken);
            LogCredentialsWritten(logger, demo.CredentialsFile);
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeding the demo province: {Phase} {Completed}/{Total}")]
    private static partial void LogProgress(ILogger logger, string phase, int completed, int total);

    [LoggerMessage(Level = LogLevel.Information, Message = "The registry already holds {Vehicles} vehicles; the demo province is not seeded again")]
    private static partial void LogAlreadySeeded(ILogger logger, int vehicles);

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded the demo province: {Vehicles} vehicles, {Departments} departments, {Zones} office zones in {Seconds:F1} s")]
    private static partial void LogSeeded(ILogger logger, int vehicles, int departments, int zones, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo logins and terminal credentials written to {Path}")]
    private static partial void LogCredentialsWritten(ILogger logger, string path);
}

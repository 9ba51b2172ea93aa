using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Fleet.Silo.Hosting;

/// <summary>Healthy when PostgreSQL answers and the schema is migrated; reports the schema version.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT coalesce(max(version), 0) FROM schema_migrations");
            var version = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            return HealthCheckResult.Healthy($"schema version {version}", new Dictionary<string, object> { ["schemaVersion"] = version });
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL is unreachable or not migrated: " + ex.Message);
        }
    }
}

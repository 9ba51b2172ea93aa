using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Silo.Hosting;

public static class DatabaseServiceCollectionExtensions
{
    /// <summary>
    /// Registers the PostgreSQL data source, the start-up migration step and the hourly partition upkeep (with the
    /// <see cref="PositionsDefaultMonitor"/>; add <see cref="PositionsDefaultHealthCheck"/> to <c>/health</c>).
    /// Migrations run before the host starts listening, so nothing is served against an old schema.
    /// </summary>
    public static IServiceCollection AddFleetDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>()
            .Bind(configuration.GetSection(DatabaseOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => IsParsableConnectionString(o.ConnectionString), "Fleet:Database:ConnectionString is not a valid PostgreSQL connection string (expected Host=…;Port=…;Database=…;Username=…).")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
            builder.UseLoggerFactory(sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>());
            return builder.Build();
        });
        services.TryAddSingleton<PositionsDefaultMonitor>();
        services.AddHostedService<MigrationHostedService>();
        services.AddHostedService<PartitionMaintenanceService>();
        return services;
    }

    private static bool IsParsableConnectionString(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return true; // [Required] reports the empty case with its own message.
        }

        try
        {
            _ = new NpgsqlConnectionStringBuilder(value);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

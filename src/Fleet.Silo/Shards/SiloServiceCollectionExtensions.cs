using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fleet.Silo.Shards;

public static class SiloServiceCollectionExtensions
{
    /// <summary>
    /// Registers the shard host (a singleton, also the hosted service that starts it and, on shutdown, drains the
    /// queues and flushes positions and snapshots), its options from <c>Fleet:Silo</c> (validated on start), the
    /// position writer and the default live-state sink and geofence lookup (register your own before or after to
    /// replace them). Needs the <see cref="Npgsql.NpgsqlDataSource"/> of <c>AddFleetDatabase</c>.
    /// For <c>/health</c>, add <see cref="ShardHostHealthCheck"/> to the health checks.
    /// </summary>
    public static IServiceCollection AddFleetSilo(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SiloOptions>()
            .Bind(configuration.GetSection(SiloOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiloOptions>, SiloOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PositionWriter>();
        services.TryAddSingleton<ILiveStateSink>(NullLiveStateSink.Instance);
        services.TryAddSingleton<IGeofenceLookup>(NullGeofenceLookup.Instance);
        services.TryAddSingleton<ShardHost>();
        services.AddHostedService(sp => sp.GetRequiredService<ShardHost>());
        return services;
    }
}

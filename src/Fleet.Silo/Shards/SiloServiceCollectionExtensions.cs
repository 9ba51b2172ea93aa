using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Fleet.Silo.Registry;
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
    /// position writer, the default live-state sink and the registry geofence lookup (register your own before
    /// to replace them). Needs the <see cref="Npgsql.NpgsqlDataSource"/> of <c>AddFleetDatabase</c>.
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
        // Geofences come from the registry; registered before the shard host, so its start waits for the first load.
        services.TryAddSingleton<RegistryGeofenceLookup>();
        services.TryAddSingleton<IGeofenceLookup>(sp => sp.GetRequiredService<RegistryGeofenceLookup>());
        services.AddHostedService(sp => sp.GetRequiredService<RegistryGeofenceLookup>());
        services.TryAddSingleton<ShardHost>();
        services.AddHostedService(sp => sp.GetRequiredService<ShardHost>());
        return services;
    }
}

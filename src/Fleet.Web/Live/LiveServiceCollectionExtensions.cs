using Fleet.Silo.Shards;
using Fleet.Web.Vehicles;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fleet.Web.Live;

public static class LiveServiceCollectionExtensions
{
    /// <summary>
    /// Registers the live hub: SignalR, the registry map (kept current from <c>fleet_registry</c>), and the
    /// broadcaster as the shard host's <see cref="ILiveStateSink"/> and as the hosted frame loop. Also makes the
    /// web's <see cref="ILiveStateReader"/> read the shard host, unless something other than the empty default was
    /// registered (a test's). Needs <c>AddFleetDatabase</c>, <c>AddFleetSilo</c> and <c>AddFleetAuth</c>.
    /// </summary>
    public static IServiceCollection AddFleetLive(this IServiceCollection services)
    {
        services.AddSignalR();
        services.AddOptions<LiveOptions>().BindConfiguration(LiveOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LiveOptions>, LiveOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        services.TryAddSingleton<LiveRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveRegistry>());
        services.TryAddSingleton<LiveBroadcaster>();
        services.Replace(ServiceDescriptor.Singleton<ILiveStateSink>(sp => sp.GetRequiredService<LiveBroadcaster>()));
        services.AddHostedService(sp => sp.GetRequiredService<LiveBroadcaster>());

        var reader = services.FirstOrDefault(d => d.ServiceType == typeof(ILiveStateReader));
        if (reader is null || reader.ImplementationType == typeof(EmptyLiveStateReader))
        {
            services.Replace(ServiceDescriptor.Singleton<ILiveStateReader, ShardLiveStateReader>());
        }

        return services;
    }

    public static IEndpointRouteBuilder MapLiveHub(this IEndpointRouteBuilder endpoints)
    {
        // The cookie is checked when the socket opens; closing it when the cookie's ticket expires is the outer bound.
        // A session revoked before then (disabled, demoted, moved) is caught by Subscribe and the broadcaster's
        // periodic recheck (LiveOptions.SessionRecheckInterval).
        endpoints.MapHub<LiveFrameHub>(LiveFrameHub.Path, options => options.CloseOnAuthenticationExpiration = true);
        return endpoints;
    }
}

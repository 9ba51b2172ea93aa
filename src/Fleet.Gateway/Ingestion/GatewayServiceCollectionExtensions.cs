using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fleet.Gateway.Ingestion;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers the ingestion gateway: <see cref="GatewayService"/> (a singleton, also the hosted service), the
    /// <see cref="TerminalRegistry"/> and the <see cref="TelemetryRejectStore"/>, with <c>Fleet:Gateway</c>
    /// (<see cref="GatewayOptions"/>) and <c>Fleet:Mqtt</c> (<see cref="MqttConnectionOptions"/>) validated on start.
    /// Needs the <c>NpgsqlDataSource</c> of <c>AddFleetDatabase</c> and the <c>ShardHost</c> of <c>AddFleetSilo</c>;
    /// call it after <c>AddFleetSilo</c>, so the shard host starts before the gateway and stops after it (the gateway
    /// then acknowledges what is committed on the way down). Adds <see cref="GatewayHealthCheck"/> to the health checks
    /// as "gateway", so <c>/health</c> lists it only where a gateway runs.
    /// </summary>
    public static IServiceCollection AddFleetGateway(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<GatewayOptions>()
            .Bind(configuration.GetSection(GatewayOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>());
        services.AddOptions<MqttConnectionOptions>()
            .Bind(configuration.GetSection(MqttConnectionOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TerminalRegistry>();
        services.TryAddSingleton<TelemetryRejectStore>();
        services.TryAddSingleton<GatewayService>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayService>());
        services.AddHealthChecks().AddCheck<GatewayHealthCheck>("gateway");
        return services;
    }
}

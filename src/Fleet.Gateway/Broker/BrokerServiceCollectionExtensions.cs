using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fleet.Gateway.Broker;

public static class BrokerServiceCollectionExtensions
{
    /// <summary>
    /// Generates the broker's password and ACL files from the registry and keeps them current (<see cref="BrokerSyncService"/>).
    /// Needs the <c>NpgsqlDataSource</c> of <c>AddFleetDatabase</c>. Binds <c>Fleet:Broker</c>, validated when the host
    /// starts, and <c>Fleet:Mqtt</c> (<see cref="MqttConnectionOptions"/>), validated when first used.
    /// </summary>
    public static IServiceCollection AddFleetBroker(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<BrokerOptions>()
            .Bind(configuration.GetSection(BrokerOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>());
        services.AddOptions<MqttConnectionOptions>()
            .Bind(configuration.GetSection(MqttConnectionOptions.Section))
            .ValidateDataAnnotations();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<BrokerConfigWriter>();
        services.TryAddSingleton<BrokerSyncService>();
        services.AddHostedService(sp => sp.GetRequiredService<BrokerSyncService>());
        return services;
    }
}

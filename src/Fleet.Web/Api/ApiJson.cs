using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fleet.Web.Api;

public static class ApiJson
{
    /// <summary>camelCase names and enums as camelCase strings ("moving", not 0) for every minimal API response.</summary>
    public static IServiceCollection AddFleetJson(this IServiceCollection services) =>
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        });
}

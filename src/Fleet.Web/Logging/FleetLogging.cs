using System.Text.Json;

namespace Fleet.Web.Logging;

public static class FleetLogging
{
    public const string JsonSetting = "Fleet:Logging:Json";

    /// <summary>
    /// With <c>Fleet:Logging:Json</c> true, the console writes one JSON object per line (UTC timestamps, category,
    /// event id, the message template's values as fields, and scopes) for a log collector; otherwise the usual
    /// readable console stays, for development.
    /// </summary>
    public static WebApplicationBuilder AddFleetLogging(this WebApplicationBuilder builder)
    {
        if (builder.Configuration.GetValue<bool>(JsonSetting))
        {
            builder.Logging.AddJsonConsole(options =>
            {
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                options.IncludeScopes = true;
                options.JsonWriterOptions = new JsonWriterOptions { Indented = false };
            });
        }

        return builder;
    }
}

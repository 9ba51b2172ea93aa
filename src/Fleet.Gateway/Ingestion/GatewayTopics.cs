namespace Fleet.Gateway.Ingestion;

/// <summary>What a received topic is, by terminal protocol v1.</summary>
public enum GatewayTopicKind : byte
{
    /// <summary>Not a topic the gateway handles (it never subscribes to one; ignored and acknowledged).</summary>
    Other,

    /// <summary><c>fleet/v1/{terminalId}/telemetry</c>.</summary>
    Telemetry,

    /// <summary><c>fleet/v1/{terminalId}/status</c>: <c>online</c>/<c>offline</c>.</summary>
    Status,
}

/// <summary>The topics of terminal protocol v1, matched on their UTF-8 bytes without allocating.</summary>
public static class GatewayTopics
{
    public const string TelemetryFilter = "fleet/v1/+/telemetry";
    public const string StatusFilter = "fleet/v1/+/status";

    private static ReadOnlySpan<byte> Prefix => "fleet/v1/"u8;

    /// <summary>Classifies <paramref name="topic"/>; for a terminal topic, <paramref name="terminalId"/> is where its id level sits.</summary>
    public static GatewayTopicKind Parse(ReadOnlySpan<byte> topic, out Range terminalId)
    {
        terminalId = default;
        if (!topic.StartsWith(Prefix))
        {
            return GatewayTopicKind.Other;
        }

        var rest = topic[Prefix.Length..];
        var slash = rest.IndexOf((byte)'/');
        if (slash < 0)
        {
            return GatewayTopicKind.Other;
        }

        var leaf = rest[(slash + 1)..];
        var kind = leaf.SequenceEqual("telemetry"u8) ? GatewayTopicKind.Telemetry
            : leaf.SequenceEqual("status"u8) ? GatewayTopicKind.Status
            : GatewayTopicKind.Other;
        if (kind != GatewayTopicKind.Other)
        {
            terminalId = new Range(Prefix.Length, Prefix.Length + slash);
        }

        return kind;
    }
}

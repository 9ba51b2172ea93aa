using Microsoft.Extensions.Logging;

namespace Fleet.Mqtt.Client;

internal static partial class MqttClientLog
{
    [LoggerMessage(1, LogLevel.Information, "MQTT connected to {Host}:{Port} as '{ClientId}' ({Version}), session present {SessionPresent}, connection {Generation}")]
    public static partial void Connected(ILogger logger, string host, int port, string clientId, Protocol.MqttProtocolVersion version, bool sessionPresent, long generation);

    [LoggerMessage(2, LogLevel.Warning, "MQTT connection {Generation} lost")]
    public static partial void ConnectionLost(ILogger logger, long generation, Exception? reason);

    [LoggerMessage(3, LogLevel.Warning, "MQTT reconnect attempt {Attempt} to {Host}:{Port} failed; next in {Delay}")]
    public static partial void ReconnectFailed(ILogger logger, int attempt, string host, int port, TimeSpan delay, Exception exception);

    [LoggerMessage(4, LogLevel.Information, "MQTT session not present: resubscribing {Count} filter(s)")]
    public static partial void Resubscribing(ILogger logger, int count);

    [LoggerMessage(5, LogLevel.Information, "MQTT resending {Count} unacknowledged publish(es) on connection {Generation}")]
    public static partial void Resending(ILogger logger, int count, long generation);

    [LoggerMessage(6, LogLevel.Error, "MQTT subscription to '{Filter}' rejected: 0x{Code:X2} {Reason}")]
    public static partial void SubscriptionRejected(ILogger logger, string filter, byte code, string reason);

    [LoggerMessage(7, LogLevel.Debug, "Dropped {Count} acknowledgement(s) of connection {BatchGeneration}; now on {Generation} (the broker redelivers)")]
    public static partial void AcksDropped(ILogger logger, int count, long batchGeneration, long generation);

    [LoggerMessage(8, LogLevel.Warning, "MQTT {PacketType} for unknown packet id {PacketId} ignored")]
    public static partial void UnknownPacketId(ILogger logger, Protocol.MqttPacketType packetType, ushort packetId);

    [LoggerMessage(9, LogLevel.Warning, "MQTT broker sent DISCONNECT 0x{Code:X2} {Reason}")]
    public static partial void ServerDisconnect(ILogger logger, byte code, string reason);

    [LoggerMessage(10, LogLevel.Information, "MQTT client closed")]
    public static partial void Closed(ILogger logger);

    [LoggerMessage(11, LogLevel.Debug, "MQTT keep-alive: no PINGRESP within {Timeout}")]
    public static partial void PingTimeout(ILogger logger, TimeSpan timeout);
}

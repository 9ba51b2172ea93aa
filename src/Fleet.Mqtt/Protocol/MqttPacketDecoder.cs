using System.Buffers;

namespace Fleet.Mqtt.Protocol;

/// <summary>Decodes control packets. Every malformed input throws <see cref="MqttProtocolException"/>.</summary>
public static class MqttPacketDecoder
{
    /// <summary>
    /// Reads the fixed header at the start of <paramref name="buffer"/>. Returns false when more bytes are needed
    /// for the header itself. Throws before any body is buffered when the remaining length is malformed
    /// (more than 4 bytes, [MQTT-1.5.5-1]) or the packet would exceed <paramref name="maximumPacketSize"/>.
    /// </summary>
    public static bool TryReadFixedHeader(in ReadOnlySequence<byte> buffer, int maximumPacketSize, out MqttFixedHeader header)
        => throw new NotImplementedException();

    /// <summary>Decodes the packet whose fixed header is <paramref name="header"/> from its body (the remaining-length bytes).</summary>
    public static MqttPacket Decode(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
        => throw new NotImplementedException();

    /// <summary>Decodes a PUBLISH body into a view over <paramref name="body"/>, allocating nothing.</summary>
    public static MqttPublishView DecodePublish(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
        => throw new NotImplementedException();
}

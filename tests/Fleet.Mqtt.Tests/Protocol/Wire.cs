using System.Buffers;
using System.Text;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>Helpers for writing expected wire bytes by hand and running them through the codec.</summary>
internal static class Wire
{
    /// <summary>
    /// Concatenates hand-written wire bytes: an <see cref="int"/> is one byte, a <see cref="string"/> is its ASCII/UTF-8
    /// characters only (any length prefix is written out by hand next to it), a byte array is copied as is.
    /// </summary>
    public static byte[] Bytes(params object[] parts)
    {
        var bytes = new List<byte>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case int value:
                    Assert.InRange(value, 0, 255);
                    bytes.Add((byte)value);
                    break;
                case string text:
                    bytes.AddRange(Encoding.UTF8.GetBytes(text));
                    break;
                case byte[] raw:
                    bytes.AddRange(raw);
                    break;
                default:
                    throw new ArgumentException($"Unsupported part {part}");
            }
        }

        return [.. bytes];
    }

    public static byte[] Encode(MqttPacket packet, MqttProtocolVersion version)
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttPacketEncoder.Encode(writer, packet, version);
        return writer.WrittenSpan.ToArray();
    }

    public static MqttFixedHeader ReadHeader(byte[] wire, int maximumPacketSize = 1 << 24)
    {
        Assert.True(MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(wire), maximumPacketSize, out var header));
        return header;
    }

    /// <summary>Decodes one complete packet, checking that the fixed header accounts for every byte.</summary>
    public static T Decode<T>(byte[] wire, MqttProtocolVersion version)
        where T : MqttPacket
    {
        var header = ReadHeader(wire);
        Assert.Equal(wire.Length, header.TotalLength);
        var packet = MqttPacketDecoder.Decode(header, wire.AsSpan(header.HeaderLength), version);
        return Assert.IsType<T>(packet);
    }

    public static MqttProtocolException AssertProtocolError(string clause, Action action)
    {
        var error = Assert.Throws<MqttProtocolException>(action);
        Assert.Equal(clause, error.Clause);
        return error;
    }

    /// <summary>Runs the whole receive path (header, then body) on a complete packet and expects a protocol error.</summary>
    public static MqttProtocolException AssertDecodeFails(string clause, byte[] wire, MqttProtocolVersion version)
        => AssertProtocolError(clause, () =>
        {
            var header = ReadHeader(wire);
            MqttPacketDecoder.Decode(header, wire.AsSpan(header.HeaderLength), version);
        });

    /// <summary>A sequence that splits <paramref name="data"/> into segments of <paramref name="segmentSize"/> bytes.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, int segmentSize)
    {
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < data.Length; offset += segmentSize)
        {
            var chunk = data.AsMemory(offset, Math.Min(segmentSize, data.Length - offset));
            if (first is null)
            {
                first = last = new Segment(chunk, 0);
            }
            else
            {
                last = last!.Append(chunk);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

namespace Fleet.Silo.Persistence;

/// <summary>A migration could not be applied, or an applied one no longer matches its file.</summary>
public sealed class MigrationException : Exception
{
    public MigrationException()
    {
    }

    public MigrationException(string message)
        : base(message)
    {
    }

    public MigrationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

"""Every write of capacity bookings; each public function is one transaction."""

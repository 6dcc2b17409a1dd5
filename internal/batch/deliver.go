package batch

// Answers reach the batches' done on one goroutine of the Producer, in the
// order their partitions answered them: a partition's batches are answered
// from its head, an answer behind one not yet answered waits for it.

// pop moves the answered batches at the head of part to the answers to
// deliver, and frees their room.
func (p *Producer) pop(part *partition) {
	n := 0
	for n < len(part.batches) && part.batches[n].state == answered {
		pb := part.batches[n]
		p.free(pb)
		p.answers = append(p.answers, pb)
		n++
	}
	if n == 0 {
		return
	}
	part.batches = append(part.batches[:0], part.batches[n:]...)
	part.next = max(part.next-n, 0)
	wake(p.deliver)
}

// free gives back the room of a batch answered, if it held any.
func (p *Producer) free(pb *pending) {
	if pb.w == nil {
		return
	}
	p.buffered -= int64(len(pb.w))
	if pb.unsent {
		p.unsent -= int64(len(pb.w))
		pb.unsent = false
	}
	pb.w = nil
	close(p.room)
	p.room = make(chan struct{})
}

// delivering calls the batches' done, in the order they were answered.
func (p *Producer) delivering() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return // Close delivers the rest
		case <-p.deliver:
		}
		p.mu.Lock()
		out := p.answers
		p.answers = nil
		p.mu.Unlock()
		p.call(out)
	}
}

// call passes each batch its answer, and counts it delivered.
func (p *Producer) call(out []*pending) {
	if len(out) == 0 {
		return
	}
	for _, pb := range out {
		pb.done(pb.base, pb.err)
	}
	p.mu.Lock()
	for _, pb := range out {
		pb.part.delivered++
	}
	close(p.answered)
	p.answered = make(chan struct{})
	p.mu.Unlock()
}

// wake signals a goroutine waiting on c, without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
